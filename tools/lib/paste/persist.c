// SPDX-License-Identifier: MIT
/*
 * libpaste: cache-line write-back and fences, chosen at run time.
 *
 * clwb keeps the line in the cache (the request may be read again soon);
 * clflushopt evicts it; clflush is ordered on its own and needs no fence,
 * but costs most. One sfence orders a whole batch of clwb/clflushopt.
 */
#include <cpuid.h>
#include <stdint.h>
#include <string.h>
#include <immintrin.h>

#include "libpaste.h"

#define CACHELINE	64

enum flush_insn { FLUSH_UNKNOWN, FLUSH_CLWB, FLUSH_CLFLUSHOPT, FLUSH_CLFLUSH };

static enum flush_insn flush_insn_detect(void)
{
	unsigned int a, b, c, d;

	if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
		if (b & (1U << 24))
			return FLUSH_CLWB;
		if (b & (1U << 23))
			return FLUSH_CLFLUSHOPT;
	}
	return FLUSH_CLFLUSH;
}

/* Detected once; a read-only property of the CPU, not program state. */
static enum flush_insn flush_insn(void)
{
	static enum flush_insn insn;

	if (__builtin_expect(insn == FLUSH_UNKNOWN, 0))
		__atomic_store_n(&insn, flush_insn_detect(), __ATOMIC_RELAXED);
	return insn;
}

const char *paste_flush_insn(void)
{
	switch (flush_insn()) {
	case FLUSH_CLWB:
		return "clwb";
	case FLUSH_CLFLUSHOPT:
		return "clflushopt";
	default:
		return "clflush";
	}
}

void paste_flush(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(CACHELINE - 1);
	uintptr_t end = (uintptr_t)p + len;
	enum flush_insn insn = flush_insn();

	if (!len)
		return;
	for (; a < end; a += CACHELINE) {
		switch (insn) {
		case FLUSH_CLWB:
			__asm__ volatile("clwb %0" : "+m"(*(volatile char *)a));
			break;
		case FLUSH_CLFLUSHOPT:
			__asm__ volatile("clflushopt %0" : "+m"(*(volatile char *)a));
			break;
		default:
			__asm__ volatile("clflush %0" : "+m"(*(volatile char *)a));
			break;
		}
	}
}

void paste_fence(void)
{
	__asm__ volatile("sfence" ::: "memory");
}

void paste_persist(const void *p, size_t len)
{
	paste_flush(p, len);
	paste_fence();
}

/* Below this, plain stores and write-backs cost less (libpmem2's choice). */
#define NT_THRESHOLD	256

void paste_copy_nodrain(void *dst, const void *src, size_t len)
{
	char *d = dst;
	const char *s = src;
	size_t head;

	if (len < NT_THRESHOLD) {
		memcpy(d, s, len);
		paste_flush(d, len);
		return;
	}
	head = -(uintptr_t)d & (CACHELINE - 1);
	memcpy(d, s, head);
	paste_flush(d, head);
	d += head;
	s += head;
	len -= head;
	for (; len >= CACHELINE; d += CACHELINE, s += CACHELINE, len -= CACHELINE) {
		long long v[CACHELINE / 8];
		unsigned int i;

		memcpy(v, s, CACHELINE);
		for (i = 0; i < CACHELINE / 8; i++)
			_mm_stream_si64((long long *)d + i, v[i]);
	}
	memcpy(d, s, len);
	paste_flush(d, len);
}
