// SPDX-License-Identifier: MIT
/*
 * Persistence modes without a data file:
 *   none       values are heap copies; nothing is durable (the baseline)
 *   fsync      each batch of records is written to pasted.log and fsync()ed
 *   fdatasync  the same with fdatasync()
 * A log record is { REC_MAGIC, key length, value length, 0 } key value.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"

#define LOG_CHECKPOINT	(64ULL << 20)	/* bytes of log that call for one */

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
	.rx = RX_HEAP,
	.open = none_open,
	.stage = none_stage,
	.commit = none_commit,
};

/* Replay the log; a torn tail was never acknowledged: cut it off. */
static int log_open(struct server *s)
{
	uint32_t rec[4];
	uint64_t off = 0;
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/pasted.log", s->opt.dir);
	s->logfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->logfd < 0 || fstat(s->logfd, &st))
		return -errno;
	while (off + sizeof(rec) <= (uint64_t)st.st_size &&
	       pread(s->logfd, rec, sizeof(rec), off) == sizeof(rec) &&
	       rec[0] == REC_MAGIC && rec[1] <= HTTP_MAX_KEY &&
	       rec[2] <= HTTP_MAX_BODY &&
	       off + sizeof(rec) + rec[1] + rec[2] <= (uint64_t)st.st_size) {
		char key[HTTP_MAX_KEY];
		struct kv_val v = { .where = KV_FILE, .len = rec[2], .npieces = 1 };
		int err;

		if (pread(s->logfd, key, rec[1], off + sizeof(rec)) != rec[1])
			return -EIO;
		v.pieces[0].off = off + sizeof(rec) + rec[1];
		v.pieces[0].len = rec[2];
		err = kv_put(&s->kv, key, rec[1], &v);
		if (err)
			return err;
		off += sizeof(rec) + rec[1] + rec[2];
	}
	if (off != (uint64_t)st.st_size &&
	    (ftruncate(s->logfd, off) || fsync(s->logfd)))
		return -errno;
	s->log_len = off;
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

static int log_truncate(struct server *s)
{
	if (ftruncate(s->logfd, 0) || fsync(s->logfd))
		return -errno;
	s->log_len = 0;
	return 0;
}

static bool log_need_checkpoint(const struct server *s)
{
	return s->log_len > LOG_CHECKPOINT;
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

const struct storage_ops fsync_ops = {
	.name = "fsync",
	.files = "log",
	.rx = RX_HEAP,
	.open = log_open,
	.stage = log_stage,
	.commit = log_commit,
	.truncate = log_truncate,
	.need_checkpoint = log_need_checkpoint,
	.read = log_read,
	.close = log_close,
};

const struct storage_ops fdatasync_ops = {
	.name = "fdatasync",
	.files = "log",
	.rx = RX_HEAP,
	.open = log_open,
	.stage = log_stage,
	.commit = log_commit,
	.truncate = log_truncate,
	.need_checkpoint = log_need_checkpoint,
	.read = log_read,
	.close = log_close,
};
