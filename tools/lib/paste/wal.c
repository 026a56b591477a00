// SPDX-License-Identifier: MIT
/*
 * libpaste: a write-ahead log of 8-byte references, with group commit.
 *
 * File layout: a 4 KiB header (magic, version, capacity, epoch), then the
 * entry array. Commit order, per batch: write back every staged payload,
 * fence; store the entries, write them back, fence. Only then is a record
 * durable, and only then may it be acknowledged.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "libpaste.h"

#define WAL_MAGIC	"PASTEWAL"
#define WAL_VERSION	1
#define WAL_HDR_SIZE	4096
#define CACHELINE	64

/*
 * A deliberately broken commit, built only as the flush-ordering checker's
 * own test (selftests/crash): 1 drops the fence after the entries, 2 never
 * writes the entries back, 3 never writes the payloads back, 4 clears the
 * entries before it moves to the next epoch. 0 in every real build.
 */
#ifndef PASTE_SEEDED_BUG
#define PASTE_SEEDED_BUG 0
#endif

struct paste_wal_hdr {
	char magic[8];
	uint32_t version;
	uint32_t capacity;
	uint32_t epoch;
	uint32_t reserved[11];
};

/*
 * CRC-32C (Castagnoli) over every logged payload: with SSE4.2's crc32
 * instruction, 8 bytes per instruction; bitwise where the CPU lacks it.
 * The bitwise loop costs ~70 instructions per byte, which made the check
 * the largest cost of a 1 KiB request (make bench, instructions/request).
 */
static uint32_t crc32c_sw(uint32_t crc, const unsigned char *p, size_t len)
{
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78 & (0U - (crc & 1)));
	}
	return crc;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

static uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc32c_hw(~crc, buf, len);
	return ~crc32c_sw(~crc, buf, len);
}

static uint32_t wal_check(const struct paste_wal_rec *rec, uint32_t epoch,
			  const void *payload)
{
	uint64_t meta[2] = {
		((uint64_t)epoch << 32) | rec->len,
		(rec->offset << 1) | rec->more,
	};

	return crc32c(crc32c(0, meta, sizeof(meta)), payload, rec->len) & 0x1fff;
}

uint64_t paste_wal_encode(const struct paste_wal_rec *rec, uint32_t epoch,
			  const void *payload)
{
	return ((uint64_t)(epoch & 1) << 63) |
	       ((uint64_t)rec->len << 50) |
	       (rec->offset << 14) |
	       ((uint64_t)wal_check(rec, epoch, payload) << 1) |
	       rec->more;
}

bool paste_wal_decode(uint64_t e, uint32_t epoch, const void *data,
		      uint64_t data_len, struct paste_wal_rec *rec)
{
	rec->len = (e >> 50) & PASTE_WAL_MAX_LEN;
	rec->offset = (e >> 14) & PASTE_WAL_MAX_OFFSET;
	rec->more = e & 1;
	if ((e >> 63) != (epoch & 1) || !rec->len ||
	    rec->offset > data_len || rec->len > data_len - rec->offset)
		return false;
	return ((e >> 1) & 0x1fff) ==
	       wal_check(rec, epoch, (const char *)data + rec->offset);
}

/* The header of a new log, written last (paste_file_create()). */
static int wal_init(int fd, uint64_t len, void *arg)
{
	struct paste_wal_hdr hdr = { .version = WAL_VERSION, .epoch = 1 };

	hdr.capacity = *(const uint32_t *)arg;
	memcpy(hdr.magic, WAL_MAGIC, 8);
	(void)len;
	return pwrite(fd, &hdr, sizeof(hdr), 0) == sizeof(hdr) ? 0 : -EIO;
}

/*
 * A log that never held an entry and has no header: what an older
 * libpaste left when a crash came between allocating a new log and
 * writing its header. It is created anew rather than refused for ever.
 */
static bool wal_never_written(int fd, uint64_t size)
{
	static const char zero[65536];
	char buf[65536];
	uint64_t off;
	ssize_t n;

	for (off = 0; off < size; off += n) {
		n = pread(fd, buf, sizeof(buf), off);
		if (n <= 0 || memcmp(buf, zero, n))
			return false;
	}
	return true;
}

int paste_wal_open(struct paste_wal *w, const char *path, uint32_t capacity,
		   const void *data, uint64_t data_len, unsigned int flags)
{
	struct stat st;
	size_t len;
	void *map;
	int err;

	memset(w, 0, sizeof(*w));
	w->payload_durable = flags & PASTE_WAL_PAYLOAD_DURABLE;
	w->data = data;
	w->data_len = data_len;
	w->fd = open(path, O_RDWR | O_CLOEXEC);
	if (w->fd < 0 && errno != ENOENT)
		return -errno;
	if (w->fd >= 0 && fstat(w->fd, &st)) {
		err = -errno;
		goto err_close;
	}
	if (w->fd < 0 || wal_never_written(w->fd, st.st_size)) {
		if (w->fd >= 0)
			close(w->fd);
		if (!capacity)
			return -EINVAL;
		len = WAL_HDR_SIZE + (size_t)capacity * 8;
		w->fd = paste_file_create(path, len, wal_init, &capacity);
		if (w->fd < 0)
			return w->fd;
		st.st_size = len;
	}
	len = st.st_size;
	err = paste_map_file(w->fd, len, flags, &w->sync, &map);
	if (err)
		goto err_close;
	w->hdr = map;
	w->entries = (uint64_t *)((char *)map + WAL_HDR_SIZE);
	if (memcmp(w->hdr->magic, WAL_MAGIC, 8) ||
	    w->hdr->version != WAL_VERSION ||
	    len < WAL_HDR_SIZE + (size_t)w->hdr->capacity * 8) {
		munmap(map, len);
		err = -EINVAL;
		goto err_close;
	}
	w->capacity = w->hdr->capacity;
	w->epoch = w->hdr->epoch;
	return 0;

err_close:
	close(w->fd);
	w->fd = -1;
	return err;
}

void paste_wal_close(struct paste_wal *w)
{
	if (w->hdr)
		munmap(w->hdr, WAL_HDR_SIZE + (size_t)w->capacity * 8);
	if (w->fd >= 0)
		close(w->fd);
	w->hdr = NULL;
	w->fd = -1;
}

/*
 * A piece of a record cannot be staged: drop the pieces of that record
 * staged before it, so that no commit writes a record without its end.
 */
static int wal_unstage_open(struct paste_wal *w, int err)
{
	w->nr_staged = w->open_from;
	return err;
}

int paste_wal_add(struct paste_wal *w, uint64_t offset, uint32_t len,
		  bool more)
{
	struct paste_wal_rec *rec;

	if (!len || len > PASTE_WAL_MAX_LEN || offset > PASTE_WAL_MAX_OFFSET ||
	    offset > w->data_len || len > w->data_len - offset)
		return wal_unstage_open(w, -EINVAL);
	if (w->nr_staged - w->open_from == PASTE_WAL_MAX_PIECES)
		return wal_unstage_open(w, -E2BIG);
	if (w->tail + w->nr_staged >= w->capacity)
		return wal_unstage_open(w, -ENOSPC);
	if (w->nr_staged == PASTE_WAL_MAX_STAGED)
		return wal_unstage_open(w, -EBUSY);
	rec = &w->staged[w->nr_staged++];
	rec->offset = offset;
	rec->len = len;
	rec->more = more;
	if (!more)
		w->open_from = w->nr_staged;
	return 0;
}

int paste_wal_commit(struct paste_wal *w)
{
	uint32_t i, n = w->open_from;

	if (!n)
		return 0;
	/* 1. The payloads reach the persistence domain... */
	if (!w->payload_durable && PASTE_SEEDED_BUG != 3) {
		for (i = 0; i < n; i++)
			paste_flush(w->data + w->staged[i].offset,
				    w->staged[i].len);
		paste_fence();
	}
	/* 2. ...before any entry that references them is written. */
	for (i = 0; i < n; i++)
		__atomic_store_n(&w->entries[w->tail + i],
				 paste_wal_encode(&w->staged[i], w->epoch,
						  w->data + w->staged[i].offset),
				 __ATOMIC_RELAXED);
	if (PASTE_SEEDED_BUG != 2)
		paste_flush(&w->entries[w->tail], n * sizeof(uint64_t));
	if (PASTE_SEEDED_BUG != 1)
		paste_fence();
	w->tail += n;
	w->committed = w->tail;
	/* The record still being staged goes in the next commit. */
	memmove(w->staged, w->staged + n,
		(w->nr_staged - n) * sizeof(w->staged[0]));
	w->nr_staged -= n;
	w->open_from = 0;
	return n;
}

/*
 * Walk the longest valid prefix of complete records, calling @cb (if set)
 * for each. Return the number of records or @cb's first non-zero value;
 * *@end is set to the entry after the last complete record.
 */
static int wal_replay(const struct paste_wal *w,
		      int (*cb)(void *arg, const struct paste_wal_rec *pieces,
				unsigned int n),
		      void *arg, uint32_t *end)
{
	struct paste_wal_rec pieces[PASTE_WAL_MAX_PIECES];
	uint32_t i, n = 0;
	int records = 0, ret;

	*end = 0;
	for (i = 0; i < w->capacity; i++) {
		if (!paste_wal_decode(__atomic_load_n(&w->entries[i], __ATOMIC_RELAXED),
				      w->epoch, w->data, w->data_len, &pieces[n]))
			break;
		if (pieces[n++].more) {
			if (n == PASTE_WAL_MAX_PIECES)
				break;
			continue;
		}
		ret = cb ? cb(arg, pieces, n) : 0;
		if (ret)
			return ret;
		records++;
		n = 0;
		*end = i + 1;
	}
	return records;
}

int paste_wal_recover(struct paste_wal *w,
		      int (*cb)(void *arg, const struct paste_wal_rec *pieces,
				unsigned int n),
		      void *arg)
{
	const uint32_t line = CACHELINE / sizeof(uint64_t);
	struct paste_wal_rec rec;
	uint32_t i, k, next, end;
	uint64_t far;
	bool dirty;
	int records;

	/*
	 * A torn commit leaves valid entries at most one batch past the end
	 * of the last complete record. One further on means an entry in the
	 * middle of the log was lost, and acknowledged records with it: fail
	 * before replaying or clearing anything.
	 */
	wal_replay(w, NULL, NULL, &end);
	for (far = (uint64_t)end + PASTE_WAL_MAX_STAGED; far < w->capacity; far++)
		if (paste_wal_decode(__atomic_load_n(&w->entries[far], __ATOMIC_RELAXED),
				     w->epoch, w->data, w->data_len, &rec))
			return -EUCLEAN;
	records = wal_replay(w, cb, arg, &end);
	if (records < 0)
		return records;

	/*
	 * Clear everything after the end, durably, before anything is
	 * appended: otherwise new entries could join up with valid entries of
	 * a torn commit (or, after the next reset, of an earlier epoch), and a
	 * later recovery would replay them.
	 */
	w->dropped = 0;
	for (i = end; i < w->capacity; i = next) {
		next = (i / line + 1) * line;
		if (next > w->capacity)
			next = w->capacity;
		dirty = false;
		for (k = i; k < next; k++) {
			if (!__atomic_load_n(&w->entries[k], __ATOMIC_RELAXED))
				continue;
			__atomic_store_n(&w->entries[k], 0, __ATOMIC_RELAXED);
			w->dropped++;
			dirty = true;
		}
		if (dirty)
			paste_flush(&w->entries[i], (next - i) * sizeof(uint64_t));
	}
	paste_fence();
	w->tail = w->committed = end;
	w->nr_staged = w->open_from = 0;
	return records;
}

int paste_wal_truncate(struct paste_wal *w, uint32_t entry)
{
	uint32_t i;
	int n = 0;

	if (entry > w->capacity)
		return -EINVAL;
	for (i = entry; i < w->capacity; i++) {
		if (!__atomic_load_n(&w->entries[i], __ATOMIC_RELAXED))
			continue;
		__atomic_store_n(&w->entries[i], 0, __ATOMIC_RELAXED);
		n++;
	}
	paste_flush(&w->entries[entry], (w->capacity - entry) * sizeof(uint64_t));
	paste_fence();
	if (w->tail > entry)
		w->tail = w->committed = entry;
	return n;
}

int paste_wal_reset(struct paste_wal *w)
{
	size_t used = (size_t)w->tail * sizeof(uint64_t);

	paste_crash_mark(1);
	if (PASTE_SEEDED_BUG == 4) {
		memset(w->entries, 0, used);
		paste_crash_mark(2);
		paste_persist(w->entries, used);
	}
	/*
	 * First move to the next epoch, durably: from then on no old entry
	 * validates, whatever part of the zeroing below reaches the media
	 * before a crash. Zeroing first would let a crash leave an old prefix
	 * to replay over the checkpoint.
	 */
	w->epoch++;
	__atomic_store_n(&w->hdr->epoch, w->epoch, __ATOMIC_RELAXED);
	paste_persist(&w->hdr->epoch, sizeof(w->hdr->epoch));
	/*
	 * Then zero what was used, durably, before any entry of the new
	 * epoch: entries of this epoch's parity must not survive to the next
	 * but one (recovery clears them too, should a crash come first).
	 */
	if (PASTE_SEEDED_BUG != 4) {
		memset(w->entries, 0, used);
		paste_crash_mark(2);
		paste_persist(w->entries, used);
	}
	paste_crash_mark(3);
	w->tail = w->committed = 0;
	w->nr_staged = w->open_from = 0;
	return 0;
}
