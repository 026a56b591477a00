// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: libpaste's WAL recovery after a crash inside a group
 * commit, over logs of random shape. The input is a program:
 *
 *   byte 0         records to write (1 to 64)
 *   byte 1         how many of the last ones form the final group commit
 *                  (the earlier ones are committed one by one)
 *   then per record: pieces (1 to 8) and a length seed per piece
 *   the rest:      one byte per cache line of the log that the crash kept
 *                  from before the final commit (its write-back was lost)
 *
 * A crash inside a commit leaves each line of the log old or new, in any
 * mix. Checked: recovery never crashes or reads out of bounds; it returns
 * every record committed before, exactly, in order, then a prefix of the
 * final commit's records, never a record that was not written; each lies
 * in the data file and only its last piece lacks "more"; and a second
 * recovery returns what the first did.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "libpaste.h"

#define DATA_LEN	(256 << 10)
#define CAPACITY	1024
#define MAX_RECS	64
#define MAX_PIECES	8

struct rec {
	unsigned int n;
	struct paste_wal_rec p[MAX_PIECES];
};

struct seen {
	const struct rec *want;
	unsigned int nwant, n;
	int bad;
};

static int record(void *arg, const struct paste_wal_rec *p, unsigned int n)
{
	struct seen *s = arg;
	const struct rec *w;
	unsigned int i;

	check(n >= 1 && n <= PASTE_WAL_MAX_PIECES);
	for (i = 0; i < n; i++) {
		check(p[i].len >= 1 && p[i].len <= PASTE_WAL_MAX_LEN);
		check(p[i].offset + p[i].len <= DATA_LEN);
		check(p[i].more == (i + 1 < n));
	}
	/* Records come back in order, each exactly as written. */
	if (s->n >= s->nwant) {
		s->bad = 1;
		return 0;
	}
	w = &s->want[s->n++];
	if (w->n != n)
		s->bad = 1;
	for (i = 0; i < n && i < w->n; i++)
		if (w->p[i].offset != p[i].offset || w->p[i].len != p[i].len)
			s->bad = 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rec recs[MAX_RECS];
	static uint64_t before[CAPACITY];
	static char *payload;
	static char path[64];
	struct paste_wal w;
	struct seen first = { .want = recs }, second = { .want = recs };
	unsigned int nrec, last, i, k, durable, lines;
	uint32_t tail0;
	uint64_t off = 0;
	size_t pos = 2;
	int ret;

	if (size < 2)
		return 0;
	if (!payload) {
		payload = malloc(DATA_LEN);
		check(payload != NULL);
		for (i = 0; i < DATA_LEN; i++)
			payload[i] = (char)(i * 2654435761u >> 13);
		snprintf(path, sizeof(path), "/dev/shm/wal-fuzz-%d", getpid());
	}
	unlink(path);
	check(!paste_wal_open(&w, path, CAPACITY, payload, DATA_LEN,
			      PASTE_MAP_ALLOW_NOSYNC));
	nrec = 1 + data[0] % MAX_RECS;
	last = 1 + data[1] % nrec;
	durable = nrec - last;
	tail0 = 0;
	for (i = 0; i < nrec; i++) {
		struct rec *r = &recs[i];

		if (i == durable) {
			/* The final commit starts: keep the lines as they were. */
			memcpy(before, w.entries, sizeof(before));
			tail0 = w.tail;
		}
		r->n = 1 + (pos < size ? data[pos++] : 0) % MAX_PIECES;
		for (k = 0; k < r->n; k++) {
			uint32_t len = 1 + (pos < size ? data[pos++] : 0) * 31;

			if (off + len > DATA_LEN)
				off = 0;
			r->p[k] = (struct paste_wal_rec){ off, len, k + 1 < r->n };
			check(!paste_wal_add(&w, off, len, k + 1 < r->n));
			off += len;
		}
		if (i < durable)
			paste_wal_commit(&w);
	}
	paste_wal_commit(&w);
	/* The crash: some lines of the final commit keep their old bytes. */
	lines = (w.tail - tail0 + 7 + tail0 % 8) / 8;
	for (; pos < size && lines; pos++) {
		unsigned int line = tail0 / 8 + data[pos] % lines;

		memcpy(&w.entries[line * 8], &before[line * 8], 64);
	}
	paste_wal_close(&w);

	check(!paste_wal_open(&w, path, CAPACITY, payload, DATA_LEN,
			      PASTE_MAP_ALLOW_NOSYNC));
	first.nwant = second.nwant = nrec;
	ret = paste_wal_recover(&w, record, &first);
	check(ret >= (int)durable && ret <= (int)nrec);
	check(!first.bad);
	check(first.n == (unsigned int)ret);
	paste_wal_close(&w);

	/* Recovery cleared what it did not return: the next one agrees. */
	check(!paste_wal_open(&w, path, CAPACITY, payload, DATA_LEN,
			      PASTE_MAP_ALLOW_NOSYNC));
	check(paste_wal_recover(&w, record, &second) == ret);
	check(!second.bad && second.n == first.n);
	paste_wal_close(&w);
	unlink(path);
	return 0;
}
