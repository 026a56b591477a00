// SPDX-License-Identifier: MIT
/*
 * libpaste: files created whole or not at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "libpaste.h"

/* fsync() the directory that holds @path, so that a rename there lasts. */
static int sync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, err = 0;

	if (!slash)
		strcpy(dir, ".");
	else if (slash == path)
		strcpy(dir, "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -ENAMETOOLONG;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

int paste_file_create(const char *path, uint64_t len,
		      int (*init)(int fd, uint64_t len, void *arg), void *arg)
{
	char tmp[PATH_MAX];
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* What an earlier, interrupted creation left. */
	if (unlink(tmp) && errno != ENOENT)
		return -errno;
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = posix_fallocate(fd, 0, len);
	if (err)
		err = -err;
	if (!err && init)
		err = init(fd, len, arg);
	if (!err && fsync(fd))
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (!err)
		err = sync_parent(path);
	if (err) {
		close(fd);
		unlink(tmp);
		return err;
	}
	return fd;
}
