// SPDX-License-Identifier: MIT
/*
 * libpaste: region files, attaching them, receiving and managing buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "libpaste.h"

int paste_map_file(int fd, size_t len, unsigned int flags, bool *sync,
		   void **map)
{
	*sync = true;
	*map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
	if (*map == MAP_FAILED && errno == EOPNOTSUPP &&
	    (flags & PASTE_MAP_ALLOW_NOSYNC)) {
		*sync = false;
		*map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	}
	if (*map == MAP_FAILED) {
		*map = NULL;
		return -errno;
	}
	return 0;
}

/*
 * One process owns a region: a second one replaying or appending the same
 * log would corrupt it. The lock is the open file's, so a fork()ed child
 * (a background rewrite) shares its parent's.
 */
static int region_lock(int fd)
{
	if (!flock(fd, LOCK_EX | LOCK_NB))
		return 0;
	return errno == EWOULDBLOCK ? -EBUSY : -errno;
}

static int region_map(struct paste_region *r, unsigned int flags)
{
	void *map;
	int err = region_lock(r->fd);

	if (err)
		return err;
	err = paste_map_file(r->fd, r->len, flags, &r->sync, &map);

	r->map = map;
	return err;
}

/* Write zeroes: allocated, written blocks, not unwritten extents. */
static int region_zero(int fd, uint64_t len, void *arg)
{
	static const char zero[65536];
	uint64_t done = 0;

	(void)arg;
	while (done < len) {
		size_t n = len - done < sizeof(zero) ? len - done : sizeof(zero);
		ssize_t w = pwrite(fd, zero, n, done);

		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		done += w;
	}
	return 0;
}

int paste_region_create(struct paste_region *r, const char *path, uint64_t len,
			unsigned int flags)
{
	int err;

	if (!len || len % (uint64_t)sysconf(_SC_PAGESIZE))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->fd = open(path, O_RDWR | O_CLOEXEC);
	if (r->fd >= 0) {	/* not while another process owns it */
		err = region_lock(r->fd);
		close(r->fd);
		if (err)
			return err;
	}
	r->len = len;
	r->fd = paste_file_create(path, len, region_zero, NULL);
	if (r->fd < 0)
		return r->fd;
	err = region_map(r, flags);
	if (err) {
		close(r->fd);
		r->fd = -1;
	}
	return err;
}

int paste_region_open(struct paste_region *r, const char *path,
		      unsigned int flags)
{
	struct stat st;
	int err;

	memset(r, 0, sizeof(*r));
	r->fd = open(path, O_RDWR | O_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	if (fstat(r->fd, &st)) {
		err = -errno;
		goto err_close;
	}
	r->len = st.st_size;
	err = r->len ? region_map(r, flags) : -EINVAL;
err_close:
	if (err) {
		close(r->fd);
		r->fd = -1;
	}
	return err;
}

void paste_region_close(struct paste_region *r)
{
	if (r->map)
		munmap(r->map, r->len);
	if (r->fd >= 0)
		close(r->fd);
	r->map = NULL;
	r->fd = -1;
}

int paste_region_attach(const struct paste_region *r, int sock,
			unsigned int flags, unsigned int slot_size,
			const struct paste_range *owned, unsigned int nr_owned)
{
	return paste_region_attach_prefix(r, r->len, sock, flags, slot_size,
					  owned, nr_owned);
}

int paste_region_attach_prefix(const struct paste_region *r, uint64_t len,
			       int sock, unsigned int flags,
			       unsigned int slot_size,
			       const struct paste_range *owned,
			       unsigned int nr_owned)
{
	struct paste_region_req req = {
		.fd = r->fd,
		.flags = flags,
		.length = len,
		.addr = (uintptr_t)r->map,
		.slot_size = slot_size,
		.nr_owned = nr_owned,
		.owned = (uintptr_t)owned,
	};

	if (len > r->len)
		return -EINVAL;
	if (setsockopt(sock, SOL_SOCKET, SO_PASTE_REGION, &req, sizeof(req)))
		return -errno;
	return 0;
}

ssize_t paste_recv(int sock, struct paste_ref *refs, unsigned int max,
		   unsigned int *nrefs, int flags)
{
	return paste_recv_upto(sock, 1 << 30, refs, max, nrefs, flags);
}

ssize_t paste_recv_upto(int sock, size_t limit, struct paste_ref *refs,
			unsigned int max, unsigned int *nrefs, int flags)
{
	char ctrl[CMSG_SPACE(sizeof(struct paste_ref)) * 256];
	struct iovec iov = { .iov_base = NULL, .iov_len = limit };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctrl,
	};
	struct cmsghdr *cm;
	ssize_t ret;

	*nrefs = 0;
	if (!max || max > 256 || !limit)
		return -EINVAL;
	msg.msg_controllen = CMSG_SPACE(sizeof(struct paste_ref)) * max;
	ret = recvmsg(sock, &msg, MSG_PASTE | flags);
	if (ret < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_PASTE)
			memcpy(&refs[(*nrefs)++], CMSG_DATA(cm), sizeof(*refs));
	return ret;
}

int paste_ioc(int sock, unsigned int op, const struct paste_ref *refs,
	      unsigned int n)
{
	unsigned int done = 0;

	while (done < n) {
		unsigned int chunk = n - done < PASTE_IOC_MAX_BATCH ?
				     n - done : PASTE_IOC_MAX_BATCH;
		struct paste_ioc ioc = {
			.op = op,
			.count = chunk,
			.refs = (uintptr_t)(refs + done),
		};
		int ret = ioctl(sock, SIOCPASTE, &ioc);

		if (ret < 0)
			return -errno;
		done += ret;
		if ((unsigned int)ret < chunk) {
			/* Learn the failing entry's error. */
			ioc.refs = (uintptr_t)(refs + done);
			ioc.count = 1;
			return ioctl(sock, SIOCPASTE, &ioc) < 0 ? -errno : -EIO;
		}
	}
	return n;
}
