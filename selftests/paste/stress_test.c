// SPDX-License-Identifier: GPL-2.0
/*
 * Volume: 64 MiB through one connection, 100 concurrent connections, and a
 * transfer across a veth pair between two network namespaces (IPv4 and
 * IPv6), every byte compared with what was sent.
 */
#include <pthread.h>
#include <stdarg.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define REGION_LEN	(8 << 20)
/* iproute2, not the busybox applet the shell would prefer. */
#define IP		"/sbin/ip"

struct sender {
	const struct sockaddr_storage *ss;
	socklen_t sslen;
	int nconn;
	int *fds;
	uint64_t bytes;
	int err;
};

/* Send stream @i (seed i + 1) of s->bytes on each of s->fds[i]. */
static void *sender_run(void *arg)
{
	struct sender *s = arg;
	static char buf[65536];
	uint64_t off;
	int i;

	for (off = 0; off < s->bytes; off += sizeof(buf)) {
		size_t n = s->bytes - off < sizeof(buf) ? s->bytes - off : sizeof(buf);

		for (i = 0; i < s->nconn; i++) {
			stream_fill(i + 1, off, buf, n);
			if (send_all(s->fds[i], buf, n)) {
				s->err = errno;
				return NULL;
			}
		}
	}
	for (i = 0; i < s->nconn; i++)
		shutdown(s->fds[i], SHUT_WR);
	return NULL;
}

/* Receive every stream with MSG_PASTE, checking and releasing. */
static int receive_streams(struct __test_metadata *_metadata, const char *map,
			   int *srv, int nconn, uint64_t bytes)
{
	struct paste_ref refs[256];
	uint64_t *got = calloc(nconn, sizeof(*got));
	struct epoll_event ev, evs[64];
	int ep = epoll_create1(0), open_conns = nconn, i, k, bad = 0;
	unsigned int n, j;

	for (i = 0; i < nconn; i++) {
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		epoll_ctl(ep, EPOLL_CTL_ADD, srv[i], &ev);
	}
	while (open_conns > 0 && !bad) {
		int ne = epoll_wait(ep, evs, 64, 30000);

		if (ne <= 0) {
			TH_LOG("epoll_wait: %d, %d connections open", ne, open_conns);
			bad = 1;
			break;
		}
		for (k = 0; k < ne; k++) {
			i = evs[k].data.u32;
			ssize_t ret = paste_recv(srv[i], refs, 256, &n, MSG_DONTWAIT);

			if (ret < 0 && errno == EAGAIN)
				continue;
			if (ret < 0) {
				TH_LOG("conn %d: recv: %s", i, strerror(errno));
				bad = 1;
				break;
			}
			if (ret == 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, srv[i], NULL);
				open_conns--;
				continue;
			}
			for (j = 0; j < n; j++) {
				if (!ref_matches(map, &refs[j], i + 1, got[i])) {
					TH_LOG("conn %d differs at %llu", i,
					       (unsigned long long)got[i]);
					bad = 1;
				}
				got[i] += refs[j].len;
			}
			if (paste_ioc(srv[i], PASTE_IOC_RELEASE, refs, n) != (int)n) {
				TH_LOG("release: %s", strerror(errno));
				bad = 1;
			}
		}
	}
	for (i = 0; i < nconn && !bad; i++) {
		if (got[i] != bytes) {
			TH_LOG("conn %d: got %llu of %llu bytes", i,
			       (unsigned long long)got[i], (unsigned long long)bytes);
			bad = 1;
		}
	}
	close(ep);
	free(got);
	return bad ? -1 : 0;
}

static int run_transfer(struct __test_metadata *_metadata, int family,
			const struct region *r, int nconn, uint64_t bytes)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int *cli = calloc(nconn, sizeof(int)), *srv = calloc(nconn, sizeof(int));
	struct sender s = { .nconn = nconn, .fds = cli, .bytes = bytes };
	pthread_t t;
	int lsn, i, ret;

	lsn = tcp_listener(family, &ss, &sslen);
	if (lsn < 0 || region_attach(lsn, r, 0))
		return -1;
	for (i = 0; i < nconn; i++)
		if (tcp_pair(lsn, &ss, sslen, &cli[i], &srv[i]))
			return -1;
	pthread_create(&t, NULL, sender_run, &s);
	ret = receive_streams(_metadata, r->map, srv, nconn, bytes);
	pthread_join(t, NULL);
	for (i = 0; i < nconn; i++) {
		close(cli[i]);
		close(srv[i]);
	}
	close(lsn);
	free(cli);
	free(srv);
	return ret || s.err ? -1 : 0;
}

FIXTURE(stress) {
	struct region r;
};

FIXTURE_SETUP(stress)
{
	ASSERT_EQ(0, region_open(&self->r, "stress", REGION_LEN, false));
}

FIXTURE_TEARDOWN(stress)
{
	region_close(&self->r);
}

TEST_F(stress, transfer_64mib_byte_for_byte)
{
	EXPECT_EQ(0, run_transfer(_metadata, AF_INET, &self->r, 1, 64 << 20));
}

TEST_F(stress, hundred_connections)
{
	EXPECT_EQ(0, run_transfer(_metadata, AF_INET6, &self->r, 100, 256 << 10));
}

/*
 * A veth pair between this namespace and a child's: the client runs in the
 * child, so the bytes take the real IP path (veth xmit, GRO) into us.
 */
static void veth_client(int family, const char *addr, int port, int go_fd,
			uint64_t bytes)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	static char buf[65536];
	uint64_t off;
	char c;
	int fd;

	if (read(go_fd, &c, 1) != 1)
		_exit(2);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, addr, &a->sin_addr);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &a->sin6_addr);
		len = sizeof(*a);
	}
	fd = tcp_connect(&ss, len);
	if (fd < 0)
		_exit(3);
	for (off = 0; off < bytes; off += sizeof(buf)) {
		stream_fill(1, off, buf, sizeof(buf));
		if (send_all(fd, buf, sizeof(buf)))
			_exit(4);
	}
	close(fd);
	_exit(0);
}

FIXTURE(veth) {
	struct region r;
	pid_t child;
	int ready[2], go[2];
};

FIXTURE_VARIANT(veth) {
	int family;
	const char *server;
	const char *client;
};

FIXTURE_VARIANT_ADD(veth, ipv4) {
	.family = AF_INET, .server = "10.77.0.1", .client = "10.77.0.2",
};

FIXTURE_VARIANT_ADD(veth, ipv6) {
	.family = AF_INET6, .server = "fd77::1", .client = "fd77::2",
};

FIXTURE_SETUP(veth)
{
	char c;

	ASSERT_EQ(0, region_open(&self->r, "veth", REGION_LEN, false));
	ASSERT_EQ(0, pipe(self->ready));
	ASSERT_EQ(0, pipe(self->go));
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (!self->child) {
		if (unshare(CLONE_NEWNET))
			_exit(1);
		c = 1;
		if (write(self->ready[1], &c, 1) != 1)
			_exit(1);
		/* Wait for the parent to move vb here, then configure it. */
		if (read(self->go[0], &c, 1) != 1)
			_exit(1);
		if (sh(IP " link set lo up && " IP " link set vb up && "
		       IP " addr add 10.77.0.2/24 dev vb && "
		       IP " addr add fd77::2/64 dev vb nodad"))
			_exit(1);
		veth_client(variant->family, variant->server, 7777, self->go[0],
			    16 << 20);
	}
	ASSERT_EQ(1, read(self->ready[0], &c, 1));
	ASSERT_EQ(0, sh(IP " link add va type veth peer name vb netns %d && "
			IP " link set va up && " IP " addr add 10.77.0.1/24 dev va && "
			IP " addr add fd77::1/64 dev va nodad", self->child));
}

FIXTURE_TEARDOWN(veth)
{
	int status;

	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, &status, 0);
	}
	sh(IP " link del va 2>/dev/null");
	region_close(&self->r);
}

TEST_F(veth, transfer_16mib_across_namespaces)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int lsn, srv, status, one = 1;
	char c = 1;

	lsn = socket(variant->family, SOCK_STREAM, 0);
	ASSERT_LE(0, lsn);
	setsockopt(lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (variant->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(7777);
		inet_pton(AF_INET, variant->server, &a->sin_addr);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(7777);
		inet_pton(AF_INET6, variant->server, &a->sin6_addr);
		len = sizeof(*a);
	}
	ASSERT_EQ(0, bind(lsn, (struct sockaddr *)&ss, len));
	ASSERT_EQ(0, listen(lsn, 4));
	ASSERT_EQ(0, region_attach(lsn, &self->r, 0));
	/* Two bytes: one to configure, one to connect. */
	ASSERT_EQ(1, write(self->go[1], &c, 1));
	ASSERT_EQ(1, write(self->go[1], &c, 1));
	srv = accept(lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	EXPECT_EQ(0, receive_streams(_metadata, self->r.map, &srv, 1, 16 << 20));
	ASSERT_EQ(self->child, waitpid(self->child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	self->child = 0;
	close(srv);
	close(lsn);
}

TEST_HARNESS_MAIN
