// SPDX-License-Identifier: MIT
/*
 * paste_demo: the smallest durable PASTE receiver.
 *
 * Creates a region file on a DAX mount, listens with the region attached,
 * and lets N client threads send fixed-size requests over loopback. The
 * server receives references with recvmsg(MSG_PASTE), makes each batch
 * durable with one SIOCPASTE FLUSH (write-back + one fence), answers, and
 * releases the buffers. Prints the durable request rate and the counters.
 *
 * usage: paste_demo DIR [SECONDS] [CONNECTIONS] [REQUEST_BYTES]
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/paste.h>

#define REGION_LEN	(16 << 20)
#define MAX_CONN	64

struct demo {
	struct sockaddr_in addr;
	int seconds, nconn;
	size_t req_len;
	atomic_int stop;
	atomic_long acked;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *client(void *arg)
{
	struct demo *d = arg;
	char *req = malloc(d->req_len), ack;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(req, 'x', d->req_len);
	if (!req || fd < 0 ||
	    connect(fd, (struct sockaddr *)&d->addr, sizeof(d->addr))) {
		perror("paste_demo: client");
		exit(1);
	}
	while (!atomic_load(&d->stop)) {
		if (send(fd, req, d->req_len, MSG_NOSIGNAL) != (ssize_t)d->req_len ||
		    recv(fd, &ack, 1, MSG_WAITALL) != 1)
			break;
		atomic_fetch_add(&d->acked, 1);
	}
	close(fd);
	free(req);
	return NULL;
}

/* Receive what is there, flush it, ack each complete request, release. */
static int serve(int fd, size_t req_len, size_t *pending)
{
	char ctrl[CMSG_SPACE(sizeof(struct paste_ref)) * 64];
	struct paste_ref refs[64];
	struct iovec iov = { .iov_len = 1 << 20 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctrl,
			      .msg_controllen = sizeof(ctrl) };
	struct paste_ioc ioc = { .refs = (uintptr_t)refs };
	struct cmsghdr *cm;
	unsigned int n = 0;
	ssize_t got;
	char acks[64];

	got = recvmsg(fd, &msg, MSG_PASTE | MSG_DONTWAIT);
	if (got <= 0)
		return got == 0 || errno != EAGAIN ? -1 : 0;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		memcpy(&refs[n++], CMSG_DATA(cm), sizeof(refs[0]));

	ioc.count = n;
	ioc.op = PASTE_IOC_FLUSH;	/* durable before acknowledged */
	if (ioctl(fd, SIOCPASTE, &ioc) != (int)n)
		return -1;
	*pending += got;
	n = 0;
	while (*pending >= req_len && n < sizeof(acks)) {
		acks[n++] = 'k';
		*pending -= req_len;
	}
	if (n && send(fd, acks, n, MSG_NOSIGNAL) != (ssize_t)n)
		return -1;
	ioc.op = PASTE_IOC_RELEASE;
	return ioctl(fd, SIOCPASTE, &ioc) == (int)ioc.count ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct demo d = { .seconds = 5, .nconn = 4, .req_len = 1156 };
	struct paste_region_req req = { .length = REGION_LEN };
	size_t pending[MAX_CONN] = { 0 };
	struct epoll_event ev, evs[MAX_CONN];
	pthread_t tid[MAX_CONN];
	socklen_t alen = sizeof(d.addr);
	char path[256], line[256];
	int lsn, ep, i, one = 1;
	double t0, t1;
	void *map;
	FILE *f;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR [SECONDS] [CONNECTIONS] [REQUEST_BYTES]\n",
			argv[0]);
		return 2;
	}
	if (argc > 2)
		d.seconds = atoi(argv[2]);
	if (argc > 3)
		d.nconn = atoi(argv[3]);
	if (argc > 4)
		d.req_len = strtoul(argv[4], NULL, 0);
	if (d.nconn < 1 || d.nconn > MAX_CONN || d.req_len < 1) {
		fprintf(stderr, "paste_demo: 1..%d connections, requests > 0 bytes\n",
			MAX_CONN);
		return 2;
	}

	snprintf(path, sizeof(path), "%s/paste-demo.region", argv[1]);
	req.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (req.fd < 0 || posix_fallocate(req.fd, 0, REGION_LEN) || fsync(req.fd)) {
		perror("paste_demo: region file");
		return 1;
	}
	map = mmap(NULL, REGION_LEN, PROT_READ | PROT_WRITE,
		   MAP_SHARED_VALIDATE | MAP_SYNC, req.fd, 0);
	if (map == MAP_FAILED) {
		perror("paste_demo: mmap(MAP_SYNC) (is DIR on a DAX mount?)");
		return 1;
	}
	req.addr = (uintptr_t)map;

	lsn = socket(AF_INET, SOCK_STREAM, 0);
	d.addr.sin_family = AF_INET;
	d.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lsn, (struct sockaddr *)&d.addr, sizeof(d.addr)) ||
	    listen(lsn, 128) ||
	    getsockname(lsn, (struct sockaddr *)&d.addr, &alen) ||
	    setsockopt(lsn, SOL_SOCKET, SO_PASTE_REGION, &req, sizeof(req))) {
		perror("paste_demo: listen with SO_PASTE_REGION");
		return 1;
	}
	printf("paste_demo: region %s (%d MiB, MAP_SYNC), %d connections, %zu-byte requests, %d s\n",
	       path, REGION_LEN >> 20, d.nconn, d.req_len, d.seconds);

	ep = epoll_create1(0);
	for (i = 0; i < d.nconn; i++)
		pthread_create(&tid[i], NULL, client, &d);
	for (i = 0; i < d.nconn; i++) {
		int c = accept(lsn, NULL, NULL);

		if (c < 0) {
			perror("paste_demo: accept");
			return 1;
		}
		ev.events = EPOLLIN;
		ev.data.u64 = ((uint64_t)i << 32) | (uint32_t)c;
		epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
	}
	t0 = now();
	while ((t1 = now()) - t0 < d.seconds) {
		int ne = epoll_wait(ep, evs, MAX_CONN, 100);

		for (i = 0; i < ne; i++) {
			int c = (int)(uint32_t)evs[i].data.u64;

			if (serve(c, d.req_len, &pending[evs[i].data.u64 >> 32])) {
				perror("paste_demo: serve");
				return 1;
			}
		}
	}
	atomic_store(&d.stop, 1);
	printf("paste_demo: %ld durable requests in %.1f s: %.0f req/s\n",
	       atomic_load(&d.acked), t1 - t0, atomic_load(&d.acked) / (t1 - t0));
	f = fopen("/proc/net/paste", "r");
	while (f && fgets(line, sizeof(line), f) && strncmp(line, "dev", 3))
		printf("paste_demo:   %s", line);
	if (f)
		fclose(f);
	fflush(stdout);
	_exit(0);
}
