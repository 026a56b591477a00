/* SPDX-License-Identifier: MIT */
/*
 * libpaste internals shared by its source files.
 */
#ifndef LIBPASTE_INTERNAL_H
#define LIBPASTE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/**
 * paste_map_file() - map @len bytes of @fd read-write, MAP_SYNC if possible
 * @fd: the file
 * @len: bytes from offset 0
 * @flags: %PASTE_MAP_ALLOW_NOSYNC or 0
 * @sync: set to whether the mapping is MAP_SYNC
 * @map: the mapping
 *
 * Return: 0, or -EOPNOTSUPP (not DAX, and no %PASTE_MAP_ALLOW_NOSYNC), or
 * another negative errno.
 */
int paste_map_file(int fd, size_t len, unsigned int flags, bool *sync,
		   void **map);

#endif /* LIBPASTE_INTERNAL_H */
