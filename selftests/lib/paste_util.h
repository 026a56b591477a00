/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the PASTE selftests: pmem files, MAP_SYNC mappings,
 * cache-line write-back, and the CPU time of a server under test.
 */
#ifndef PASTE_UTIL_H
#define PASTE_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define PMEM_DIR "/mnt/pmem"
#define CACHELINE 64

/* Send all @len bytes of @buf: 0, or -1. */
static inline int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * CPU time process @pid has used, in clock ticks, or -1: a server that
 * waits uses about none, one that spins 100 a second.
 */
static inline long proc_cpu_ticks(pid_t pid)
{
	unsigned long ut, st;
	char path[64], buf[1024], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	/* After "pid (comm)": state is field 3, utime 14, stime 15. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return -1;
	return ut + st;
}

/* Run a shell command built like printf(); its system() status. */
static inline int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/*
 * The marker at which the insncount QEMU plugin (tools/bench/insncount.c)
 * reports its counts; a NOP everywhere else.
 */
static inline void insn_mark(void)
{
	asm volatile(".byte 0x0f, 0x1f, 0x80, 0x49, 0x43, 0x4e, 0x54" ::: "memory");
}

/* Create (or reuse) a fully allocated, zeroed file of @len bytes. */
static inline int pmem_file_create(const char *path, size_t len)
{
	static const char zero[65536];
	size_t done = 0;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	while (done < len) {
		size_t n = len - done < sizeof(zero) ? len - done : sizeof(zero);
		ssize_t w = pwrite(fd, zero, n, done);

		if (w <= 0) {
			close(fd);
			return -1;
		}
		done += w;
	}
	if (fsync(fd)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A synchronous DAX mapping: CPU cache write-back is enough for durability. */
static inline void *pmem_map_sync(int fd, size_t len, off_t off)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_SHARED_VALIDATE | MAP_SYNC, fd, off);
}

static inline void pmem_clwb(const void *p)
{
	asm volatile("clwb %0" : "+m"(*(volatile char *)p));
}

static inline void pmem_sfence(void)
{
	asm volatile("sfence" ::: "memory");
}

/* Write back [p, p + len) and fence once. */
static inline void pmem_persist(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(CACHELINE - 1);

	for (; a < (uintptr_t)p + len; a += CACHELINE)
		pmem_clwb((const void *)a);
	pmem_sfence();
}

/* Value of "paste.<key>=" on the kernel command line, or NULL. */
static inline char *cmdline_arg(const char *key, char *buf, size_t len)
{
	char cmd[4096], pat[128], *p, *end;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return NULL;
	p = fgets(cmd, sizeof(cmd), f);
	fclose(f);
	if (!p)
		return NULL;
	snprintf(pat, sizeof(pat), "paste.%s=", key);
	p = strstr(cmd, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	end = p + strcspn(p, "\n ");
	if ((size_t)(end - p) >= len)
		return NULL;
	memcpy(buf, p, end - p);
	buf[end - p] = '\0';
	return buf;
}

#endif /* PASTE_UTIL_H */
