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

/*
 * Crash point @n (1-9) inside a checkpoint, for the flush-ordering checker
 * (selftests/crash/flushcheck.c): "nopl 0x<n>4b4843(%rax)" ("CHK<n>"), a
 * NOP. Only the checker's own builds of pasted define PASTE_CRASH_MARKS.
 */
#ifdef PASTE_CRASH_MARKS
#define paste_crash_mark(n) \
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80, 0x43, 0x48, 0x4b, 0x30 + " #n \
			 ::: "memory")
#else
#define paste_crash_mark(n) do { } while (0)
#endif

#endif /* LIBPASTE_INTERNAL_H */
