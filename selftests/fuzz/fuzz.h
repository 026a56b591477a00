/* SPDX-License-Identifier: MIT */
/* What the libFuzzer targets share. */
#ifndef PASTE_FUZZ_H
#define PASTE_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

/* An invariant: when it fails, say which, and crash for the fuzzer. */
#define check(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
		abort();						\
	}								\
} while (0)

#endif /* PASTE_FUZZ_H */
