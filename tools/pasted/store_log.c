// SPDX-License-Identifier: MIT
/*
 * Persistence modes without a data file:
 *   none       values are heap copies; nothing is durable (the baseline)
 *   fsync      each batch of records is written to pasted.log and fsync()ed
 *   fdatasync  the same with fdatasync()
 *
 * pasted.log is a 4 KiB header { "PASTELOG", generation } and then records
 * { REC_MAGIC, key length, value length, check } key value, where check
 * hashes the generation, the lengths, the key and the value. The file is
 * preallocated (written with zeros) to --region bytes when it is created
 * and then overwritten in place, as a database's log is: fdatasync() then
 * writes data blocks only, and neither the file size nor block allocation
 * has to be committed with them. A checkpoint moves to the next generation,
 * so that older records no longer check; recovery replays records while
 * they check, and a torn one ends the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"

static int none_open(struct server *s)
{
	(void)s;
	return 0;
}

static int none_stage(struct server *s, const struct http_req *req,
		      struct located *at, const char *body, struct kv_val *v)
{
	(void)at;
	v->where = KV_HEAP;
	v->heap = malloc(req->body_len ? req->body_len : 1);
	if (!v->heap)
		return -ENOMEM;
	memcpy(v->heap, body, req->body_len);
	s->st.payload_copied += req->body_len;
	return 0;
}

static int none_commit(struct server *s)
{
	(void)s;
	return 0;
}

const struct storage_ops none_ops = {
	.name = "none",
	.files = "",
	.rx = &rx_heap,
	.open = none_open,
	.stage = none_stage,
	.commit = none_commit,
};

#define LOG_HDR		4096
#define LOG_MAGIC	"PASTELOG"

struct log_hdr {
	char magic[8];
	uint64_t generation;
};

/* FNV-1a, 32 bits, over the record: it tells a whole one from a torn or stale one. */
static uint32_t log_check(uint64_t gen, const uint32_t *rec, const char *key,
			  const char *val)
{
	const unsigned char *parts[] = { (const void *)&gen, (const void *)rec + 4,
					 (const void *)key, (const void *)val };
	size_t lens[] = { sizeof(gen), 8, rec[1], rec[2] };
	uint32_t h = 0x811c9dc5;
	unsigned int i;
	size_t k;

	for (i = 0; i < 4; i++)
		for (k = 0; k < lens[i]; k++)
			h = (h ^ parts[i][k]) * 0x01000193;
	return h;
}

static int log_write_hdr(int fd, uint64_t gen)
{
	struct log_hdr h = { LOG_MAGIC, gen };

	return pwrite(fd, &h, sizeof(h), 0) == sizeof(h) ? 0 : -EIO;
}

/*
 * A new log's contents (paste_file_create() makes them durable and names
 * the file): the header, then zeros written to @len bytes.
 */
static int log_init(int fd, uint64_t len, void *arg)
{
	static const char zero[1 << 16];
	uint64_t off;
	int err = log_write_hdr(fd, 1);

	(void)arg;
	for (off = LOG_HDR; !err && off < len; off += sizeof(zero)) {
		size_t n = len - off < sizeof(zero) ? len - off : sizeof(zero);

		if (pwrite(fd, zero, n, off) != (ssize_t)n)
			err = -EIO;
	}
	return err;
}

/*
 * No header and no first record: a creation that a crash interrupted
 * (before logs were created under another name and renamed).
 */
static bool log_never_written(int fd, uint64_t size)
{
	static const char zero[LOG_HDR + 16];
	char buf[LOG_HDR + 16];

	return !size || (pread(fd, buf, sizeof(buf), 0) == sizeof(buf) &&
			 !memcmp(buf, zero, sizeof(buf)));
}

/*
 * Read the record at @off of a log of @size bytes whose generation is
 * @gen into @key and @val (HTTP_MAX_KEY, HTTP_MAX_BODY bytes): its length
 * on disk, or 0 if there is no valid record there.
 */
static size_t log_record_at(int fd, uint64_t size, uint64_t gen, uint64_t off,
			    uint32_t *rec, char *key, char *val)
{
	if (off + 16 > size || pread(fd, rec, 16, off) != 16 ||
	    rec[0] != REC_MAGIC || rec[1] > HTTP_MAX_KEY ||
	    rec[2] > HTTP_MAX_BODY || off + 16 + rec[1] + rec[2] > size ||
	    pread(fd, key, rec[1], off + 16) != rec[1] ||
	    pread(fd, val, rec[2], off + 16 + rec[1]) != rec[2] ||
	    log_check(gen, rec, key, val) != rec[3])
		return 0;
	return 16 + rec[1] + rec[2];
}

/* Does the log at @path hold no record (or not exist)? For storage_check(). */
bool log_is_empty(const char *path)
{
	char key[HTTP_MAX_KEY], *val = malloc(HTTP_MAX_BODY);
	struct log_hdr h;
	uint32_t rec[4];
	struct stat st;
	bool empty;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) || !val) {
		empty = fd < 0 && errno == ENOENT;
	} else {
		empty = !st.st_size ||
			(pread(fd, &h, sizeof(h), 0) == sizeof(h) &&
			 !memcmp(h.magic, LOG_MAGIC, 8) &&
			 !log_record_at(fd, st.st_size, h.generation, LOG_HDR, rec,
					key, val));
	}
	if (fd >= 0)
		close(fd);
	free(val);
	return empty;
}

/*
 * Replay the log. Then, if it held anything, ask for a checkpoint
 * (storage_open() runs it): the records are in the snapshot, and the next generation makes sure that bytes a torn batch
 * left beyond the end can never check again once new records overwrite
 * the start of that batch.
 */
static int log_open(struct server *s)
{
	char path[512], key[HTTP_MAX_KEY], *val;
	struct log_hdr h;
	uint32_t rec[4];
	struct stat st;
	uint64_t off = LOG_HDR;
	size_t n;
	int err;

	snprintf(path, sizeof(path), "%s/pasted.log", s->opt.dir);
	s->logfd = open(path, O_RDWR | O_CLOEXEC);
	if (s->logfd < 0 && errno != ENOENT)
		return -errno;
	if (s->logfd >= 0 && fstat(s->logfd, &st))
		return -errno;
	if (s->logfd < 0 || log_never_written(s->logfd, st.st_size)) {
		if (s->logfd >= 0)
			close(s->logfd);
		s->logfd = paste_file_create(path, s->opt.region_len, log_init,
					     NULL);
		if (s->logfd < 0)
			return s->logfd;
		s->log_gen = 1;
		s->log_len = LOG_HDR;
		return 0;
	}
	if (pread(s->logfd, &h, sizeof(h), 0) != sizeof(h) ||
	    memcmp(h.magic, LOG_MAGIC, 8)) {
		fprintf(stderr, "pasted: %s is not a pasted log\n", path);
		return -EINVAL;
	}
	s->log_gen = h.generation;
	val = malloc(HTTP_MAX_BODY);
	if (!val)
		return -ENOMEM;
	while ((n = log_record_at(s->logfd, st.st_size, s->log_gen, off, rec,
				  key, val))) {
		struct kv_val v = { .where = KV_FILE, .len = rec[2], .npieces = 1 };

		v.pieces[0].off = off + 16 + rec[1];
		v.pieces[0].len = rec[2];
		err = kv_put(&s->kv, key, rec[1], &v);
		if (err) {
			free(val);
			return err;
		}
		off += n;
	}
	free(val);
	s->log_len = off;
	s->checkpoint_due = off != LOG_HDR;
	return 0;
}

/* Append the record to this batch; the value's offset is where it will be. */
static int log_stage(struct server *s, const struct http_req *req,
		     struct located *at, const char *body, struct kv_val *v)
{
	uint32_t rec[4] = { REC_MAGIC, req->key_len, req->body_len, 0 };
	size_t len = sizeof(rec) + req->key_len + req->body_len;
	char *p;

	(void)at;
	if (s->batch_len + len > s->batch_cap) {
		size_t cap = (s->batch_len + len) * 2;

		p = realloc(s->batch, cap);
		if (!p)
			return -ENOMEM;
		s->batch = p;
		s->batch_cap = cap;
	}
	p = s->batch + s->batch_len;
	rec[3] = log_check(s->log_gen, rec, req->key, body);
	memcpy(p, rec, sizeof(rec));
	memcpy(p + sizeof(rec), req->key, req->key_len);
	memcpy(p + sizeof(rec) + req->key_len, body, req->body_len);
	v->where = KV_FILE;
	v->npieces = 1;
	v->pieces[0].off = s->log_len + s->batch_len + sizeof(rec) + req->key_len;
	v->pieces[0].len = req->body_len;
	s->batch_len += len;
	s->st.payload_copied += req->body_len;
	return 0;
}

static int log_commit(struct server *s)
{
	if (!s->batch_len)
		return 0;
	if (pwrite(s->logfd, s->batch, s->batch_len, s->log_len) !=
	    (ssize_t)s->batch_len)
		return -EIO;
	s->st.write_copied += s->batch_len;
	if (s->opt.mode == M_FSYNC ? fsync(s->logfd) : fdatasync(s->logfd))
		return -errno;
	s->log_len += s->batch_len;
	s->batch_len = 0;
	return 1;
}

/* The snapshot holds every value: the next generation starts empty. */
static int log_truncate(struct server *s)
{
	int err = log_write_hdr(s->logfd, s->log_gen + 1);

	if (!err && (s->opt.mode == M_FSYNC ? fsync(s->logfd) : fdatasync(s->logfd)))
		err = -errno;
	if (err)
		return err;
	s->log_gen++;
	s->log_len = LOG_HDR;
	return 0;
}

/* Three quarters of the preallocated log used. */
static bool log_need_checkpoint(const struct server *s)
{
	return (s->log_len - LOG_HDR) * 4 > s->opt.region_len * 3;
}

static int log_read(struct server *s, const struct kv_val *v, char *dst)
{
	if (v->pieces[0].off >= s->log_len) {
		/* Still in this batch: not written yet. */
		memcpy(dst, s->batch + (v->pieces[0].off - s->log_len), v->len);
		return 0;
	}
	return pread(s->logfd, dst, v->len, v->pieces[0].off) == (ssize_t)v->len ?
	       0 : -EIO;
}

static void log_close(struct server *s)
{
	if (s->logfd >= 0)
		close(s->logfd);
	free(s->batch);
}

#define LOG_OPS(mode_name) {			\
	.name = mode_name,				\
	.files = "log",					\
	.rx = &rx_heap,					\
	.open = log_open,				\
	.stage = log_stage,				\
	.commit = log_commit,				\
	.truncate = log_truncate,			\
	.need_checkpoint = log_need_checkpoint,		\
	.read = log_read,				\
	.close = log_close,				\
}

/* The two differ only in the sync call (log_commit(), log_truncate()). */
const struct storage_ops fsync_ops = LOG_OPS("fsync");
const struct storage_ops fdatasync_ops = LOG_OPS("fdatasync");
