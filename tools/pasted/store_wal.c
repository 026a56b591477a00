// SPDX-License-Identifier: MIT
/*
 * Persistence modes with a data file on DAX and a WAL of references to it:
 *   memcpy    read() into memory, then one copy of the request into the
 *             log area of pasted.data, with non-temporal stores as
 *             libpmem2's pmem2_memcpy() makes it
 *   readmmap  read() straight into the log area (per-connection chunks)
 *   paste     recvmsg(MSG_PASTE): requests land in buffers of the region
 *             pasted.region; no user-space copy of payload
 * A request becomes one WAL record of references to its bytes; commit
 * writes the payload back and then the entries (libpaste's order).
 * Recovery re-parses each record where it lies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* The value: the request's pieces minus the first @skip bytes (the head). */
static int body_pieces(const struct located *at, size_t skip, size_t len,
		       struct kv_val *v)
{
	struct kv_piece p[ARRAY_SIZE(at->p)];
	unsigned int i, n = 0;

	for (i = 0; i < at->n && len; i++) {
		uint64_t off = at->p[i].off;
		uint32_t plen = at->p[i].len;

		if (skip >= plen) {
			skip -= plen;
			continue;
		}
		off += skip;
		plen -= skip;
		skip = 0;
		if (plen > len)
			plen = len;
		p[n].off = off;
		p[n++].len = plen;
		len -= plen;
	}
	v->where = KV_DATA;
	v->npieces = n;
	v->more = NULL;
	if (n > KV_INLINE_PIECES) {
		v->more = malloc(n * sizeof(*p));
		if (!v->more)
			return -ENOMEM;
	}
	memcpy(v->more ? v->more : v->pieces, p, n * sizeof(*p));
	return 0;
}

/* Stage the record of @at: all of it, or (-E2BIG: 413) none. */
static int wal_stage(struct server *s, const struct located *at)
{
	unsigned int i, entries = 0;
	int err;

	for (i = 0; i < at->n; i++)
		entries += (at->p[i].len + PASTE_WAL_MAX_LEN - 1) / PASTE_WAL_MAX_LEN;
	if (entries > PASTE_WAL_MAX_PIECES)
		return -E2BIG;
	for (i = 0; i < at->n; i++) {
		uint64_t off = at->p[i].off;
		uint32_t left = at->p[i].len;

		while (left) {
			uint32_t n = left > PASTE_WAL_MAX_LEN ? PASTE_WAL_MAX_LEN : left;

			err = paste_wal_add(&s->wal, off, n,
					    i + 1 < at->n || n < left);
			if (err)
				return err;
			off += n;
			left -= n;
		}
	}
	return 0;
}

/* readmmap and paste: the request is in the data file already. */
static int inplace_stage(struct server *s, const struct http_req *req,
			 struct located *at, const char *body, struct kv_val *v)
{
	int err = body_pieces(at, req->header_len, req->body_len, v);

	(void)body;
	if (err)
		return err;
	err = wal_stage(s, at);
	if (err)
		free(v->more);
	return err;
}

/* memcpy: one copy of the whole request into the log area. */
static int memcpy_stage(struct server *s, const struct http_req *req,
			struct located *at, const char *body, struct kv_val *v)
{
	size_t total = req->header_len + req->body_len;

	if (s->data_tail + total > s->data.len)
		return -ENOSPC;
	/* Durable at the commit's first fence: the WAL need not flush it. */
	paste_copy_nodrain(s->data.map + s->data_tail, at->buf, total);
	s->st.payload_copied += total;
	at->n = 1;
	at->p[0].off = s->data_tail;
	at->p[0].len = total;
	s->data_tail += (total + 63) & ~63ULL;
	return inplace_stage(s, req, at, body, v);
}

static int wal_commit(struct server *s)
{
	if (!s->wal.nr_staged)
		return 0;
	paste_wal_commit(&s->wal);
	return 1;
}

/* memcpy: the copies are in flight to the media; drain, then the entries. */
static int memcpy_commit(struct server *s)
{
	if (!s->wal.nr_staged)
		return 0;
	paste_fence();
	paste_wal_commit(&s->wal);
	return 1;
}

/*
 * Fault in every page of the log area for writing, as a real engine on
 * DAX would at start (libpmem2 users map with MAP_POPULATE, which does not
 * write-fault a shared mapping): the benchmark compares copies, not page
 * faults.
 */
static void prefault(struct server *s)
{
	volatile char *p = s->data.map;
	uint64_t i;

	for (i = 0; i < s->data.len; i += 4096)
		p[i] = p[i];
}

/*
 * A WAL record is one POST request: re-parse it from where it lies. The
 * buffers it references are the ones the region must not hand out again.
 */
static int recover_record(void *arg, const struct paste_wal_rec *p,
			  unsigned int n)
{
	struct server *s = arg;
	char buf[IN_CAP];
	struct located at = { .buf = buf };
	struct kv_val v = { 0 };
	struct http_req req;
	size_t len = 0;
	unsigned int i;
	int err;

	for (i = 0; i < n; i++) {
		if (len + p[i].len > sizeof(buf) || at.n == ARRAY_SIZE(at.p))
			return -EINVAL;
		memcpy(buf + len, s->data.map + p[i].offset, p[i].len);
		len += p[i].len;
		at.p[at.n].off = p[i].offset;
		at.p[at.n++].len = p[i].len;
		if (s->nowned < s->wal.capacity) {
			s->owned[s->nowned].offset = p[i].offset;
			s->owned[s->nowned++].length = p[i].len;
		}
		if (p[i].offset + p[i].len > s->data_tail)
			s->data_tail = (p[i].offset + p[i].len + 63) & ~63ULL;
	}
	if (http_parse(buf, len, &req) != 1 || req.method != HTTP_POST ||
	    req.header_len + req.body_len != len) {
		fprintf(stderr, "pasted: %s/pasted.wal: the record at entry %u (%u entries, %zu bytes from data offset %llu) is not a POST request: the log is damaged, refusing to start; --truncate-wal %u drops it and every later record\n",
			s->opt.dir, s->wal_replayed, n, len,
			(unsigned long long)p[0].offset, s->wal_replayed);
		return -EINVAL;
	}
	s->wal_replayed += n;
	v.len = req.body_len;
	err = body_pieces(&at, req.header_len, req.body_len, &v);
	return err ? err : kv_put(&s->kv, req.key, req.key_len, &v);
}

/* --truncate-wal: the operator drops a damaged record and what follows. */
static int wal_truncate(struct server *s)
{
	int n = paste_wal_truncate(&s->wal, s->opt.truncate_wal);

	if (n < 0)
		return n;
	fprintf(stderr, "pasted: %s/pasted.wal: --truncate-wal %u dropped %d entries: the records they held are lost\n",
		s->opt.dir, s->opt.truncate_wal, n);
	return 0;
}

static int wal_open(struct server *s)
{
	unsigned int flags = s->opt.allow_nosync ? PASTE_MAP_ALLOW_NOSYNC : 0;
	const char *name = s->store->rx->data_file;
	char path[512];
	int err, records;

	snprintf(path, sizeof(path), "%s/pasted.%s", s->opt.dir, name);
	err = paste_region_open(&s->data, path, flags);
	if (err == -ENOENT || (!err && s->data.len != s->opt.region_len)) {
		if (!err)
			paste_region_close(&s->data);
		err = paste_region_create(&s->data, path, s->opt.region_len, flags);
	}
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/pasted.wal", s->opt.dir);
	/* Payloads already on their way: by the kernel, or memcpy's copy. */
	if (s->opt.kernel_flush || s->opt.mode == M_MEMCPY)
		flags |= PASTE_WAL_PAYLOAD_DURABLE;
	err = paste_wal_open(&s->wal, path, s->opt.wal_entries, s->data.map,
			     s->data.len, flags);
	if (err)
		return err;
	s->has_wal = true;
	s->owned = calloc(s->wal.capacity, sizeof(*s->owned));
	if (!s->owned)
		return -ENOMEM;
	if (s->opt.truncate_wal != NO_TRUNCATE) {
		err = wal_truncate(s);
		if (err)
			return err;
	}
	records = paste_wal_recover(&s->wal, recover_record, s);
	if (records == -EUCLEAN)
		fprintf(stderr, "pasted: %s: valid entries lie past a lost one: acknowledged records were lost with it; refusing to start (the log is left as it is)\n",
			path);
	else if (records >= 0 && s->wal.dropped)
		fprintf(stderr, "pasted: %s: cleared %u entries after the last complete record (a torn commit, never acknowledged, or an interrupted checkpoint)\n",
			path, s->wal.dropped);
	/* Receive chunks start on chunk boundaries after what the log uses. */
	s->data_tail = (s->data_tail + CHUNK - 1) / CHUNK * CHUNK;
	return records < 0 ? records : 0;
}

/* memcpy, readmmap: user space writes the log area; paste: the kernel. */
static int data_open(struct server *s)
{
	int err = wal_open(s);

	if (!err)
		prefault(s);
	return err;
}

static int data_read(struct server *s, const struct kv_val *v, char *dst)
{
	const struct kv_piece *p = kv_pieces(v);
	unsigned int i;

	for (i = 0; i < v->npieces; i++) {
		memcpy(dst, s->data.map + p[i].off, p[i].len);
		dst += p[i].len;
	}
	return 0;
}

/*
 * readmmap: the chunks connections receive into stay in use after a
 * checkpoint, which frees log area only when some chunk is not one of
 * them (with every chunk held, a checkpoint per round would free nothing).
 */
static bool data_need_checkpoint(const struct server *s)
{
	bool frees_area = !s->chunk_kept || chunk_freeable(s);

	return s->wal.tail * 4 > s->wal.capacity * 3 ||
	       (frees_area && s->data_tail * 4 > s->data.len * 3);
}

/*
 * The log area starts over. readmmap connections keep receiving where they
 * are (io_uring may have a receive in flight there), and the values they
 * receive there are live: chunk_alloc() skips those chunks until the next
 * checkpoint.
 */
static int data_truncate(struct server *s)
{
	unsigned int i;

	paste_wal_reset(&s->wal);
	s->data_tail = 0;
	if (s->chunk_kept) {
		memset(s->chunk_kept, 0, s->data.len / CHUNK);
		for (i = 0; i < s->max_conn; i++)
			if (s->conns[i] && s->conns[i]->in)
				s->chunk_kept[s->conns[i]->chunk / CHUNK] = true;
	}
	return 0;
}

/*
 * readmmap: claim the next chunk of the log area that holds nothing live,
 * or -ENOSPC until a checkpoint empties the log.
 */
int chunk_alloc(struct server *s, uint64_t *off)
{
	if (!s->chunk_kept) {
		s->chunk_kept = calloc(s->data.len / CHUNK + 1, sizeof(bool));
		if (!s->chunk_kept)
			return -ENOMEM;
	}
	for (; s->data_tail + CHUNK <= s->data.len; s->data_tail += CHUNK) {
		if (!s->chunk_kept[s->data_tail / CHUNK]) {
			*off = s->data_tail;
			s->data_tail += CHUNK;
			return 0;
		}
	}
	return -ENOSPC;
}

/*
 * Would a checkpoint free a chunk? Not while every chunk is a connection's
 * (a snapshot per refused connection would free nothing).
 */
bool chunk_freeable(const struct server *s)
{
	return s->chunk_conns < s->data.len / CHUNK;
}

/* paste: the region's buffers go back once the snapshot holds the values. */
static int region_truncate(struct server *s)
{
	paste_wal_reset(&s->wal);
	return paste_release_all(s);
}

/*
 * Also before the logged buffers outnumber what a restart can name to the
 * kernel as owned (PASTE_MAX_OWNED runs of slots).
 */
static bool region_need_checkpoint(const struct server *s)
{
	size_t logged = s->pins.n + s->pins.held;

	return s->wal.tail * 4 > s->wal.capacity * 3 ||
	       logged * 4 > (size_t)s->nr_slots * 3 ||
	       logged * 4 > (size_t)PASTE_MAX_OWNED * 3;
}

static void wal_close(struct server *s)
{
	if (s->has_wal)
		paste_wal_close(&s->wal);
	if (s->data.map)
		paste_region_close(&s->data);
	free(s->owned);
	free(s->chunk_kept);
	paste_pins_free(&s->pins);
}

const struct storage_ops memcpy_ops = {
	.name = "memcpy",
	.files = "data wal",
	.rx = &rx_heap,
	.open = data_open,
	.stage = memcpy_stage,
	.commit = memcpy_commit,
	.truncate = data_truncate,
	.need_checkpoint = data_need_checkpoint,
	.read = data_read,
	.close = wal_close,
};

const struct storage_ops readmmap_ops = {
	.name = "readmmap",
	.files = "data wal",
	.rx = &rx_log_area,
	.open = data_open,
	.stage = inplace_stage,
	.commit = wal_commit,
	.truncate = data_truncate,
	.need_checkpoint = data_need_checkpoint,
	.read = data_read,
	.close = wal_close,
};

const struct storage_ops paste_ops = {
	.name = "paste",
	.files = "region wal",
	.rx = &rx_paste,
	.open = wal_open,
	.stage = inplace_stage,
	.commit = wal_commit,
	.truncate = region_truncate,
	.need_checkpoint = region_need_checkpoint,
	.read = data_read,
	.close = wal_close,
};
