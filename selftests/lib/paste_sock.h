/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the PASTE socket selftests: regions, TCP pairs, receiving
 * references and pinning/releasing them.
 */
#ifndef PASTE_SOCK_H
#define PASTE_SOCK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/paste.h>

#include "paste_util.h"

struct region {
	int fd;
	char *map;
	size_t len;
	char path[128];
};

/*
 * A file of @len bytes in directory @dir, on pmem (MAP_SYNC) or on tmpfs
 * (@volatile_shm), mapped.
 */
static inline int region_open_in(struct region *r, const char *dir,
				 const char *name, size_t len, bool volatile_shm)
{
	snprintf(r->path, sizeof(r->path), "%s/%s", dir, name);
	r->len = len;
	r->fd = pmem_file_create(r->path, len);
	if (r->fd < 0)
		return -1;
	r->map = volatile_shm ?
		mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0) :
		pmem_map_sync(r->fd, len, 0);
	return r->map == MAP_FAILED ? -1 : 0;
}

/* The same on the ext4 pmem mount, or on tmpfs when @volatile_shm. */
static inline int region_open(struct region *r, const char *name, size_t len,
			      bool volatile_shm)
{
	return region_open_in(r, volatile_shm ? "/dev/shm" : PMEM_DIR, name,
			      len, volatile_shm);
}

static inline void region_close(struct region *r)
{
	if (r->map && r->map != MAP_FAILED)
		munmap(r->map, r->len);
	if (r->fd >= 0)
		close(r->fd);
	unlink(r->path);
}

static inline struct paste_region_req region_req(const struct region *r,
						 unsigned int flags)
{
	struct paste_region_req req = {
		.fd = r->fd,
		.flags = flags,
		.offset = 0,
		.length = r->len,
		.addr = (uintptr_t)r->map,
	};
	return req;
}

static inline int region_attach_req(int sock, const struct paste_region_req *req)
{
	return setsockopt(sock, SOL_SOCKET, SO_PASTE_REGION, req, sizeof(*req));
}

static inline int region_attach(int sock, const struct region *r,
				unsigned int flags)
{
	struct paste_region_req req = region_req(r, flags);

	return region_attach_req(sock, &req);
}

static inline int paste_info(int sock, struct paste_sock_info *info)
{
	socklen_t len = sizeof(*info);

	return getsockopt(sock, SOL_SOCKET, SO_PASTE_REGION, info, &len);
}

/* ioctl(SIOCPASTE) on @n refs. */
static inline int paste_ioc(int sock, unsigned int op, struct paste_ref *refs,
			    unsigned int n)
{
	struct paste_ioc ioc = { .op = op, .count = n, .refs = (uintptr_t)refs };

	return ioctl(sock, SIOCPASTE, &ioc);
}

/*
 * recvmsg(MSG_PASTE) into @refs (at most @max), returns bytes consumed or
 * -1, and the number of references in *@nrefs.
 */
static inline ssize_t paste_recv(int sock, struct paste_ref *refs,
				 unsigned int max, unsigned int *nrefs,
				 int flags)
{
	char ctrl[CMSG_SPACE(sizeof(struct paste_ref)) * 256];
	struct iovec iov = { .iov_base = NULL, .iov_len = 1 << 30 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctrl,
		.msg_controllen = CMSG_SPACE(sizeof(struct paste_ref)) *
				  (max < 256 ? max : 256),
	};
	struct cmsghdr *cm;
	ssize_t ret;

	*nrefs = 0;
	ret = recvmsg(sock, &msg, MSG_PASTE | flags);
	if (ret <= 0)
		return ret;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_PASTE)
			continue;
		memcpy(&refs[(*nrefs)++], CMSG_DATA(cm), sizeof(*refs));
	}
	return ret;
}

/* A listening socket on loopback (@family AF_INET or AF_INET6). */
static inline int tcp_listener(int family, struct sockaddr_storage *ss,
			       socklen_t *sslen)
{
	int fd = socket(family, SOCK_STREAM, 0), one = 1;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*sslen = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*sslen = sizeof(*a);
	}
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)ss, *sslen) ||
	    listen(fd, 1024) ||
	    getsockname(fd, (struct sockaddr *)ss, sslen)) {
		close(fd);
		return -1;
	}
	return fd;
}

static inline int tcp_connect(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)ss, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Deterministic test bytes: byte @i of stream @seed. */
static inline unsigned char stream_byte(uint32_t seed, uint64_t i)
{
	uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ULL + seed;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (unsigned char)(x >> ((i & 7) * 8));
}

static inline void stream_fill(uint32_t seed, uint64_t off, void *buf,
			       size_t len)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = stream_byte(seed, off + i);
}

/*
 * Send @len bytes of stream @seed in @seg-byte segments, each pushed on
 * its own (TCP_NODELAY) so that they arrive as separate skbs. Tiny
 * segments cost the receiver far more memory than bytes, and under TCG
 * 50 of them once took over 5 s to queue: wait for them with
 * wait_inq_for() and a generous limit.
 */
static inline int send_segments(int fd, uint32_t seed, size_t len, size_t seg)
{
	unsigned char buf[4096];
	int one = 1;
	size_t off, n;

	if (seg > sizeof(buf) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		return -1;
	for (off = 0; off < len; off += n) {
		n = len - off < seg ? len - off : seg;
		stream_fill(seed, off, buf, n);
		if (send_all(fd, buf, n))
			return -1;
	}
	return 0;
}

/* Wait until @sock has at least @n bytes queued, up to @secs seconds. */
static inline int wait_inq_for(int sock, int n, int secs)
{
	int i, q = 0;

	for (i = 0; i < secs * 100; i++) {
		if (ioctl(sock, FIONREAD, &q))
			return -1;
		if (q >= n)
			return q;
		usleep(10000);
	}
	return q;
}

/* Wait until @sock has at least @n bytes queued (up to ~5 s). */
static inline int wait_inq(int sock, int n)
{
	return wait_inq_for(sock, n, 5);
}

/* A connected pair over loopback; *@srv is accepted from @lsn. */
static inline int tcp_pair(int lsn, const struct sockaddr_storage *ss,
			   socklen_t len, int *cli, int *srv)
{
	*cli = tcp_connect(ss, len);
	if (*cli < 0)
		return -1;
	*srv = accept(lsn, NULL, NULL);
	return *srv < 0 ? -1 : 0;
}

/* Check that @ref's bytes in @map equal stream @seed at @off. */
static inline bool ref_matches(const char *map, const struct paste_ref *ref,
			       uint32_t seed, uint64_t off)
{
	uint32_t i;

	for (i = 0; i < ref->len; i++)
		if ((unsigned char)map[ref->offset + i] != stream_byte(seed, off + i))
			return false;
	return true;
}

/* A counter of /proc/net/paste, or -1. */
static inline long long proc_paste_counter(const char *name)
{
	char line[256], key[64];
	long long v, found = -1;
	FILE *f = fopen("/proc/net/paste", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", key, &v) == 2 && !strcmp(key, name))
			found = v;
	fclose(f);
	return found;
}

/* Number of live regions on inode @ino in /proc/net/paste, or -1. */
static inline int proc_paste_regions_of(unsigned long ino)
{
	char line[256], pat[32];
	int n = 0;
	FILE *f = fopen("/proc/net/paste", "r");

	if (!f)
		return -1;
	snprintf(pat, sizeof(pat), "\t%lu\t", ino);
	while (fgets(line, sizeof(line), f))
		n += !!strstr(line, pat);
	fclose(f);
	return n;
}

/* TcpExt counter @name of /proc/net/netstat, or -1. */
static inline long long tcpext_counter(const char *name)
{
	char keys[4096], vals[4096], *k, *v, *ks, *vs;
	long long found = -1;
	FILE *f = fopen("/proc/net/netstat", "r");

	if (!f)
		return -1;
	while (fgets(keys, sizeof(keys), f) && fgets(vals, sizeof(vals), f)) {
		if (strncmp(keys, "TcpExt:", 7))
			continue;
		k = strtok_r(keys, "\n ", &ks);
		v = strtok_r(vals, "\n ", &vs);
		while ((k = strtok_r(NULL, "\n ", &ks)) &&
		       (v = strtok_r(NULL, "\n ", &vs)))
			if (!strcmp(k, name))
				found = atoll(v);
	}
	fclose(f);
	return found;
}

#endif /* PASTE_SOCK_H */
