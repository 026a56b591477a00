// SPDX-License-Identifier: MIT
/*
 * pasted: a durable HTTP/1.1 key-value server, the PASTE paper's experiment
 * made useful.
 *
 *   POST /<key>  stores the body; "201 Created" only once it is durable
 *   GET /<key>   returns the latest value, or 404
 *
 * Persistence modes (--mode):
 *   none       nothing is durable (the baseline)
 *   fsync      write() a record to a log file, fsync() per batch
 *   fdatasync  the same with fdatasync()
 *   memcpy     read() into memory, memcpy() the request into a MAP_SYNC log
 *              area on DAX, flush, WAL entry
 *   readmmap   read() straight into the MAP_SYNC log area, flush, WAL entry
 *   paste      recvmsg(MSG_PASTE): requests land in region buffers; flush in
 *              place, WAL of references, no user-space copy of payload
 *
 * Event loops (--loop): epoll, or io_uring (receives, sends and releases
 * batched across connections). Every loop iteration ends with one group
 * commit; responses are sent only after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <liburing.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "kv.h"
#include "libpaste.h"

enum mode { M_NONE, M_FSYNC, M_FDATASYNC, M_MEMCPY, M_READMMAP, M_PASTE };
static const char *const mode_names[] = {
	"none", "fsync", "fdatasync", "memcpy", "readmmap", "paste",
};

#define MAX_CONN	65536		/* descriptors pasted asks for at most */
/*
 * References queued per connection. A request spans at most this many, so
 * its WAL record has at most as many entries (one per reference: a slot is
 * at most a page), which is what recovery reads back as one record.
 */
#define QMAX		PASTE_WAL_MAX_PIECES
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define IN_CAP		(HTTP_MAX_HEADER + HTTP_MAX_BODY)
#define OUT_MAX		(256 << 10)	/* stop reading above this backlog */
#define CHUNK		(64 << 10)	/* readmmap receive chunk */
#define REC_MAGIC	0x50415354U	/* fsync-mode log record */
#define REL_BATCH	32		/* buffers released per SIOCPASTE */
#define REPLY_MAX	4096		/* --reply-bytes limit */

struct options {
	enum mode mode;
	bool uring;
	int port;
	const char *dir;
	uint64_t region_len;
	uint32_t wal_entries;
	bool allow_nosync;
	bool kernel_flush;
	unsigned int reply_bytes;
	unsigned int slot_size;
	unsigned int idle_ms;		/* close a connection idle this long */
	unsigned int request_ms;	/* ... or with a request this slow */
	const char *rx_ifname;		/* paste: NIC whose queue 0 receives
					 * into the region (zero copy) */
	bool quiet;
};

struct conn {
	int fd;
	bool closing, eof, touched, recv_armed, send_busy;
	uint64_t active_ms;		/* when bytes last came in */
	uint64_t partial_ms;		/* since when a request is incomplete */
	/* modes other than paste: bytes received, parsed in place */
	char *in;
	size_t in_len;
	uint64_t in_off;		/* readmmap: data-file offset of @in */
	uint64_t chunk;			/* readmmap: the chunk this connection
					 * owns; @in_off may be its end */
	/* paste: queued references; @qoff bytes of q[0] are consumed */
	struct paste_ref q[QMAX];
	bool keep[QMAX];
	unsigned int qn;
	uint32_t qoff;
	struct paste_ref done[QMAX * 2];	/* consumed, to pin or release */
	bool done_keep[QMAX * 2];
	unsigned int ndone;
	/* consumed buffers with logged bytes, still held by the socket */
	struct paste_ref *held;
	unsigned int nheld, held_cap;
	bool unsettled;			/* settling failed: some may be lost */
	/* consumed buffers to release, in batches */
	struct paste_ref rel[REL_BATCH];
	unsigned int nrel;
	char hdr[HTTP_MAX_HEADER];	/* a head spanning buffers, gathered */
	/* io_uring receive */
	struct msghdr msg;
	struct iovec iov;
	char ctrl[CMSG_SPACE(sizeof(struct paste_ref)) * QMAX];
	/* responses, sent after the group commit */
	char *out;
	size_t out_len, out_cap, out_sent;
};

struct stats {
	uint64_t requests, posts, gets, errors, commits, checkpoints;
	uint64_t payload_copied;	/* bytes user space copied of POST payloads */
	uint64_t header_copied;		/* bytes of heads gathered across buffers */
	uint64_t recv_copied;		/* bytes the kernel copied in by recv() */
	uint64_t write_copied;		/* bytes the kernel copied in by pwrite() */
};

struct server {
	struct options opt;
	int lsn, sigfd;
	struct paste_region data;	/* region (paste) or log area */
	struct paste_wal wal;
	bool has_wal;
	int logfd;			/* fsync modes */
	uint64_t log_len;
	char *batch;			/* fsync modes: records of this batch */
	size_t batch_len, batch_cap;
	uint64_t data_tail;		/* memcpy/readmmap: next free byte */
	bool *chunk_kept;		/* readmmap: chunks in use at the last
					 * checkpoint, not reused until the next */
	uint32_t *pinned;		/* paste: tokens pinned since checkpoint */
	size_t npinned;
	size_t nheld;			/* paste: logged tokens sockets hold */
	uint32_t nr_slots;
	struct kv kv;
	struct conn **conns;		/* by descriptor, @max_conn of them */
	struct conn **touched;
	unsigned int max_conn;
	int ep;				/* epoll loop */
	uint64_t sweep_ms;		/* last look for timed-out connections */
	struct __kernel_timespec tick;	/* io_uring loop: timer period */
	bool accept_paused;		/* out of descriptors */
	unsigned int ntouched;
	struct io_uring ring;
	bool stop;
	int fatal;			/* why the loop stopped, if it failed */
	struct stats st;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int die_errno(const char *what, int err)
{
	fprintf(stderr, "pasted: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* ------------------------------------------------------------ output */

static int out_reserve(struct conn *c, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + n)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	return 0;
}

/* Queue a response head announcing @len bytes of body. */
static int respond_head(struct conn *c, int status, size_t len, bool close)
{
	char head[192];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s%s\r\n",
			 status, http_reason(status), len,
			 http_status_fields(status),
			 close ? "Connection: close\r\n" : "");

	if (out_reserve(c, n + len))
		return -ENOMEM;
	memcpy(c->out + c->out_len, head, n);
	c->out_len += n;
	return 0;
}

static int respond(struct conn *c, int status, const char *body, size_t len,
		   bool close)
{
	int err = respond_head(c, status, len, close);

	if (err)
		return err;
	if (len)
		memcpy(c->out + c->out_len, body, len);
	c->out_len += len;
	return 0;
}

/*
 * 201 Created; with --reply-bytes, padded with a body so that the whole
 * response has that size (the PASTE paper's 127- and 151-byte replies).
 */
static int respond_created(struct server *s, struct conn *c, bool close)
{
	char pad[REPLY_MAX];
	size_t want = s->opt.reply_bytes, len;

	if (!want)
		return respond(c, 201, NULL, 0, close);
	/* The head grows with the digits of Content-Length. */
	len = want;
	while (len && (size_t)snprintf(NULL, 0, "HTTP/1.1 201 Created\r\n"
				       "Content-Length: %zu\r\n%s\r\n", len,
				       close ? "Connection: close\r\n" : "") + len > want)
		len--;
	memset(pad, '.', len);
	if (len)
		pad[len - 1] = '\n';
	return respond(c, 201, pad, len, close);
}

static int respond_value(struct server *s, struct conn *c,
			 const struct kv_val *v, bool close)
{
	size_t pos;
	unsigned int i;
	int err = respond_head(c, 200, v->len, close);

	if (err)
		return err;
	/* respond_head() reserved room for the value. */
	pos = c->out_len;
	switch (v->where) {
	case KV_HEAP:
		memcpy(c->out + pos, v->heap, v->len);
		break;
	case KV_DATA:
		for (i = 0; i < v->npieces; i++) {
			memcpy(c->out + pos, s->data.map + kv_pieces(v)[i].off,
			       kv_pieces(v)[i].len);
			pos += kv_pieces(v)[i].len;
		}
		break;
	case KV_FILE:
		if (v->pieces[0].off >= s->log_len) {
			/* Still in this batch: not written yet. */
			memcpy(c->out + pos, s->batch + (v->pieces[0].off - s->log_len),
			       v->len);
		} else if (pread(s->logfd, c->out + pos, v->len, v->pieces[0].off) !=
			   (ssize_t)v->len) {
			return -EIO;
		}
		break;
	}
	c->out_len += v->len;
	return 0;
}

/* ------------------------------------------------------------ storage */

/*
 * Store a POST: @req is the request, @at locates its bytes: at most one
 * piece per queued reference, or per WAL entry of a record at recovery.
 */
struct located {
	const char *buf;		/* contiguous bytes, or NULL */
	unsigned int n;			/* data-file pieces of the request */
	struct kv_piece p[PASTE_WAL_MAX_PIECES];
};

_Static_assert(QMAX <= ARRAY_SIZE(((struct located *)0)->p),
	       "a request spans at most QMAX references");

/* Body pieces: the request's pieces minus the first @skip bytes. */
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

static int store_post(struct server *s, const struct http_req *req,
		      struct located *at, const char *body)
{
	struct kv_val v = { .len = req->body_len };
	size_t total = req->header_len + req->body_len;
	uint32_t rec[4];
	int err;

	switch (s->opt.mode) {
	case M_NONE:
		v.where = KV_HEAP;
		v.heap = malloc(v.len ? v.len : 1);
		if (!v.heap)
			return -ENOMEM;
		memcpy(v.heap, body, v.len);
		s->st.payload_copied += v.len;
		break;
	case M_FSYNC:
	case M_FDATASYNC:
		rec[0] = REC_MAGIC;
		rec[1] = req->key_len;
		rec[2] = req->body_len;
		rec[3] = 0;
		if (s->batch_len + sizeof(rec) + total > s->batch_cap) {
			size_t cap = (s->batch_len + sizeof(rec) + total) * 2;
			char *p = realloc(s->batch, cap);

			if (!p)
				return -ENOMEM;
			s->batch = p;
			s->batch_cap = cap;
		}
		memcpy(s->batch + s->batch_len, rec, sizeof(rec));
		memcpy(s->batch + s->batch_len + sizeof(rec), req->key, req->key_len);
		memcpy(s->batch + s->batch_len + sizeof(rec) + req->key_len, body,
		       req->body_len);
		v.where = KV_FILE;
		v.npieces = 1;
		v.pieces[0].off = s->log_len + s->batch_len + sizeof(rec) +
				  req->key_len;
		v.pieces[0].len = v.len;
		s->batch_len += sizeof(rec) + req->key_len + req->body_len;
		s->st.payload_copied += req->body_len;
		break;
	case M_MEMCPY:
		/* One copy of the whole request into the log area. */
		if (s->data_tail + total > s->data.len)
			return -ENOSPC;
		memcpy(s->data.map + s->data_tail, at->buf, total);
		s->st.payload_copied += total;
		at->n = 1;
		at->p[0].off = s->data_tail;
		at->p[0].len = total;
		s->data_tail += (total + 63) & ~63ULL;
		/* fall through */
	case M_READMMAP:
	case M_PASTE:
		v.where = KV_DATA;
		err = body_pieces(at, req->header_len, req->body_len, &v);
		if (err)
			return err;
		err = wal_stage(s, at);
		if (err) {
			free(v.more);
			return err;
		}
		break;
	}
	return kv_put(&s->kv, req->key, req->key_len, &v);
}

static int commit(struct server *s)
{
	int err = 0;

	switch (s->opt.mode) {
	case M_FSYNC:
	case M_FDATASYNC:
		if (!s->batch_len)
			return 0;
		if (pwrite(s->logfd, s->batch, s->batch_len, s->log_len) !=
		    (ssize_t)s->batch_len)
			return -EIO;
		s->st.write_copied += s->batch_len;
		err = s->opt.mode == M_FSYNC ? fsync(s->logfd) : fdatasync(s->logfd);
		if (err)
			return -errno;
		s->log_len += s->batch_len;
		s->batch_len = 0;
		break;
	case M_MEMCPY:
	case M_READMMAP:
	case M_PASTE:
		if (!s->wal.nr_staged)
			return 0;
		paste_wal_commit(&s->wal);
		break;
	default:
		return 0;
	}
	s->st.commits++;
	return 0;
}

/* ------------------------------------------------------------ checkpoint */

/*
 * Copy every live value to the heap and write a snapshot file; then the log
 * can be emptied and its buffers released.
 */
static int snapshot_write(struct server *s)
{
	char tmp[512], path[512];
	size_t i;
	FILE *f;
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s/pasted.snapshot.tmp", s->opt.dir);
	snprintf(path, sizeof(path), "%s/pasted.snapshot", s->opt.dir);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	for (i = 0; i < s->kv.cap && !err; i++) {
		struct kv_ent *e = &s->kv.ents[i];
		struct kv_val *v = &e->val;
		uint32_t hdr[3] = { REC_MAGIC, e->klen, v->len };
		unsigned int k;
		size_t pos = 0;
		char *copy;

		if (!e->key)
			continue;
		if (v->where != KV_HEAP) {
			copy = malloc(v->len ? v->len : 1);
			if (!copy) {
				err = -ENOMEM;
				break;
			}
			for (k = 0; k < v->npieces && v->where == KV_DATA; k++) {
				memcpy(copy + pos, s->data.map + kv_pieces(v)[k].off,
				       kv_pieces(v)[k].len);
				pos += kv_pieces(v)[k].len;
			}
			if (v->where == KV_FILE &&
			    pread(s->logfd, copy, v->len, v->pieces[0].off) !=
			    (ssize_t)v->len) {
				free(copy);
				err = -EIO;
				break;
			}
			v->where = KV_HEAP;
			v->heap = copy;
			v->npieces = 0;
			free(v->more);
			v->more = NULL;
		}
		if (fwrite(hdr, sizeof(hdr), 1, f) != 1 ||
		    fwrite(e->key, e->klen, 1, f) != 1 ||
		    (v->len && fwrite(v->heap, v->len, 1, f) != 1))
			err = -EIO;
	}
	if (fflush(f) || fsync(fileno(f)))
		err = err ? err : -errno;
	fclose(f);
	if (err)
		return err;
	if (rename(tmp, path))
		return -errno;
	fd = open(s->opt.dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || fsync(fd))
		err = -errno;
	if (fd >= 0)
		close(fd);
	return err;
}

static int token_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Release every pinned buffer through the listener, which shares the region,
 * in sorted SIOCPASTE batches; a token listed twice is released once.
 */
static int release_pinned(struct server *s)
{
	struct paste_ref refs[PASTE_IOC_MAX_BATCH];
	size_t i, n = 0;
	int err;

	qsort(s->pinned, s->npinned, sizeof(*s->pinned), token_cmp);
	for (i = 0; i < s->npinned; i++) {
		if (i && s->pinned[i] == s->pinned[i - 1])
			continue;
		refs[n++] = (struct paste_ref){ .token = s->pinned[i] };
		if (n == PASTE_IOC_MAX_BATCH) {
			err = paste_ioc(s->lsn, PASTE_IOC_RELEASE, refs, n);
			if (err < 0)
				return err;
			n = 0;
		}
	}
	if (n) {
		err = paste_ioc(s->lsn, PASTE_IOC_RELEASE, refs, n);
		if (err < 0)
			return err;
	}
	s->npinned = 0;
	return 0;
}

static int checkpoint(struct server *s)
{
	unsigned int i;
	int err;

	err = commit(s);
	if (!err)
		err = snapshot_write(s);
	if (err)
		return err;
	switch (s->opt.mode) {
	case M_FSYNC:
	case M_FDATASYNC:
		if (ftruncate(s->logfd, 0) || fsync(s->logfd))
			return -errno;
		s->log_len = 0;
		break;
	case M_PASTE:
		paste_wal_reset(&s->wal);
		err = release_pinned(s);
		if (err)
			return err;
		/*
		 * Settled buffers are in the snapshot now. Buffers consumed in
		 * this round are not settled yet and keep their mark: a record
		 * staged after this checkpoint may reference them.
		 */
		for (i = 0; i < s->max_conn; i++) {
			struct conn *c = s->conns[i];

			if (!c || !c->nheld)
				continue;
			err = paste_ioc(c->fd, PASTE_IOC_RELEASE, c->held, c->nheld);
			if (err < 0)
				return err;
			s->nheld -= c->nheld;
			c->nheld = 0;
		}
		break;
	case M_MEMCPY:
	case M_READMMAP:
		/*
		 * The log area starts over. readmmap connections keep receiving
		 * where they are (io_uring may have a receive in flight there),
		 * and the values they receive there are live: chunk_alloc()
		 * skips those chunks until the next checkpoint.
		 */
		paste_wal_reset(&s->wal);
		s->data_tail = 0;
		if (s->chunk_kept) {
			memset(s->chunk_kept, 0, s->data.len / CHUNK);
			for (i = 0; i < s->max_conn; i++)
				if (s->conns[i] && s->conns[i]->in)
					s->chunk_kept[s->conns[i]->chunk / CHUNK] = true;
		}
		break;
	default:
		break;
	}
	s->st.checkpoints++;
	return 0;
}

static bool need_checkpoint(const struct server *s)
{
	switch (s->opt.mode) {
	case M_FSYNC:
	case M_FDATASYNC:
		return s->log_len > (64ULL << 20);
	case M_PASTE:
		return s->wal.tail * 4 > s->wal.capacity * 3 ||
		       (s->npinned + s->nheld) * 4 > (size_t)s->nr_slots * 3;
	case M_MEMCPY:
	case M_READMMAP:
		return s->wal.tail * 4 > s->wal.capacity * 3 ||
		       s->data_tail * 4 > s->data.len * 3;
	default:
		return false;
	}
}

/* ------------------------------------------------------------ requests */

static void conn_close(struct server *s, struct conn *c);

/* Handle one parsed request whose bytes are all here. */
static int handle(struct server *s, struct conn *c, const struct http_req *req,
		  struct located *at, const char *body)
{
	struct kv_val *v;
	int err;

	s->st.requests++;
	if (req->method == HTTP_GET) {
		s->st.gets++;
		v = kv_get(&s->kv, req->key, req->key_len);
		return v ? respond_value(s, c, v, req->close) :
			   respond(c, 404, "not found\n", 10, req->close);
	}
	s->st.posts++;
	err = store_post(s, req, at, body);
	if (err == -ENOSPC) {
		err = checkpoint(s);
		if (!err)
			err = store_post(s, req, at, body);
	}
	if (err) {
		/* The reply says "Connection: close": so it must be. */
		s->st.errors++;
		c->closing = true;
		return respond(c, err == -E2BIG ? 413 : err == -ENOMEM ? 503 : 500,
			       NULL, 0, true);
	}
	return respond_created(s, c, req->close);
}

static void bad_request(struct server *s, struct conn *c, int status)
{
	s->st.errors++;
	respond(c, status, http_reason(status), strlen(http_reason(status)), true);
	c->closing = true;
}

/* Modes with a contiguous input buffer: parse and handle what is there. */
static void process_buffer(struct server *s, struct conn *c)
{
	size_t pos = 0;

	while (!c->closing && pos < c->in_len) {
		struct http_req req;
		struct located at;	/* one piece: no zeroing */
		int ret = http_parse(c->in + pos, c->in_len - pos, &req);

		if (ret < 0) {
			bad_request(s, c, -ret);
			break;
		}
		if (!ret || c->in_len - pos < req.header_len + req.body_len)
			break;
		at.buf = c->in + pos;
		at.n = 1;
		at.p[0].off = c->in_off + pos;
		at.p[0].len = req.header_len + req.body_len;
		if (handle(s, c, &req, &at, c->in + pos + req.header_len))
			c->closing = true;
		if (req.close)
			c->closing = true;
		pos += req.header_len + req.body_len;
	}
	if (pos) {
		/* Keep the partial request; in readmmap the bytes stay in
		 * place and the buffer window moves. */
		if (s->opt.mode == M_READMMAP) {
			c->in += pos;
			c->in_off += pos;
		} else {
			memmove(c->in, c->in + pos, c->in_len - pos);
		}
		c->in_len -= pos;
	}
}

/* paste: bytes queued in references, from (q[0], qoff). */
static size_t queued(const struct conn *c)
{
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < c->qn; i++)
		n += c->q[i].len;
	return n - c->qoff;
}

/*
 * Consume @len bytes of the queue, describing them in @at: one piece per
 * reference, at most QMAX. Consumed references go to @done, which must
 * have room for QMAX more (see conn_read_epoll()).
 */
static void consume(struct conn *c, size_t len, bool keep, struct located *at)
{
	at->n = 0;
	while (len) {
		struct paste_ref *r = &c->q[0];
		uint32_t n = r->len - c->qoff;

		if (n > len)
			n = len;
		at->p[at->n].off = r->offset + c->qoff;
		at->p[at->n++].len = n;
		c->keep[0] |= keep;
		c->qoff += n;
		len -= n;
		if (c->qoff == r->len) {
			c->done[c->ndone] = *r;
			c->done_keep[c->ndone++] = c->keep[0];
			memmove(&c->q[0], &c->q[1], (c->qn - 1) * sizeof(c->q[0]));
			memmove(&c->keep[0], &c->keep[1], (c->qn - 1) * sizeof(c->keep[0]));
			c->keep[c->qn - 1] = false;
			c->qn--;
			c->qoff = 0;
		}
	}
}

/* paste: parse heads in place (gathering only a head that spans buffers). */
static void process_refs(struct server *s, struct conn *c)
{
	while (!c->closing && c->qn) {
		const char *head = s->data.map + c->q[0].offset + c->qoff;
		size_t avail = c->q[0].len - c->qoff, total = queued(c);
		struct http_req req;
		struct located at;	/* consume() fills it: no zeroing */
		int ret = http_parse(head, avail, &req);

		if (ret == 0 && c->qn > 1) {
			size_t n = 0, want = total < HTTP_MAX_HEADER ? total : HTTP_MAX_HEADER;
			unsigned int i;
			uint32_t off = c->qoff;

			for (i = 0; i < c->qn && n < want; i++, off = 0) {
				size_t k = c->q[i].len - off;

				if (k > want - n)
					k = want - n;
				memcpy(c->hdr + n, s->data.map + c->q[i].offset + off, k);
				n += k;
			}
			s->st.header_copied += n;
			head = c->hdr;
			ret = http_parse(head, n, &req);
		}
		if (ret < 0) {
			bad_request(s, c, -ret);
			break;
		}
		if (!ret || total < req.header_len + req.body_len)
			break;
		/* The key points into @head, which consume() leaves alone. */
		at.buf = NULL;
		consume(c, req.header_len + req.body_len, req.method == HTTP_POST,
			&at);
		if (handle(s, c, &req, &at, NULL))
			c->closing = true;
		if (req.close)
			c->closing = true;
	}
}

static int release_batch(struct conn *c)
{
	int err = c->nrel ? paste_ioc(c->fd, PASTE_IOC_RELEASE, c->rel, c->nrel) : 0;

	c->nrel = 0;
	return err < 0 ? err : 0;
}

/* paste: a consumed buffer is held (@keep: it has logged bytes) or released. */
static int settle_one(struct server *s, struct conn *c,
		      const struct paste_ref *ref, bool keep)
{
	if (keep) {
		if (c->nheld == c->held_cap) {
			unsigned int cap = c->held_cap ? c->held_cap * 2 : 64;
			struct paste_ref *p = realloc(c->held, cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			c->held = p;
			c->held_cap = cap;
		}
		c->held[c->nheld++] = *ref;
		s->nheld++;
		return 0;
	}
	c->rel[c->nrel++] = *ref;
	return c->nrel == REL_BATCH ? release_batch(c) : 0;
}

/*
 * paste: sort consumed buffers. Those with logged bytes stay with the
 * socket, which keeps the kernel from reusing them, until a checkpoint
 * releases them or the connection closes (@final), when they are pinned so
 * they outlive the socket. The others are released in batches. Either way
 * no SIOCPASTE is needed per request.
 *
 * At close, the buffers still queued are settled too: the first may hold
 * logged bytes followed by the start of a request that never completed.
 */
static int settle_refs(struct server *s, struct conn *c, bool final)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < c->ndone && !err; i++)
		err = settle_one(s, c, &c->done[i], c->done_keep[i]);
	c->ndone = 0;
	for (i = 0; final && i < c->qn && !err; i++)
		err = settle_one(s, c, &c->q[i], c->keep[i]);
	if (final)
		c->qn = c->qoff = 0;
	if (!err && final)
		err = release_batch(c);
	if (!err && final && c->nheld) {
		err = paste_ioc(c->fd, PASTE_IOC_PIN, c->held, c->nheld);
		if (err >= 0) {
			for (i = 0; i < c->nheld; i++)
				s->pinned[s->npinned++] = c->held[i].token;
			s->nheld -= c->nheld;
			c->nheld = 0;
			err = 0;
		}
	}
	if (err)
		c->unsettled = true;
	return err;
}

static void touch(struct server *s, struct conn *c)
{
	if (!c->touched) {
		c->touched = true;
		s->touched[s->ntouched++] = c;
	}
}

/* Room for the next receive: a chunk of our own buffer or log area. */
/* readmmap: claim the next chunk that holds nothing live. */
static int chunk_alloc(struct server *s, uint64_t *off)
{
	bool retried = false;
	int err;

	if (!s->chunk_kept) {
		s->chunk_kept = calloc(s->data.len / CHUNK + 1, sizeof(bool));
		if (!s->chunk_kept)
			return -ENOMEM;
	}
	for (;;) {
		for (; s->data_tail + CHUNK <= s->data.len; s->data_tail += CHUNK) {
			if (!s->chunk_kept[s->data_tail / CHUNK]) {
				*off = s->data_tail;
				s->data_tail += CHUNK;
				return 0;
			}
		}
		if (retried)
			return -ENOSPC;
		retried = true;
		err = checkpoint(s);
		if (err)
			return err;
	}
}

/*
 * readmmap: the window must end inside the chunk the connection owns. When
 * consumed bytes end exactly at its end, @in_off is the next chunk's first
 * byte, which may be another connection's: compare with @chunk, never with
 * a chunk derived from @in_off.
 */
static int in_room(struct server *s, struct conn *c, char **p, size_t *n)
{
	if (s->opt.mode == M_READMMAP &&
	    c->in_off + c->in_len + IN_CAP > c->chunk + CHUNK) {
		/* Too close to the chunk end: continue in a fresh chunk. */
		uint64_t off;
		int err = chunk_alloc(s, &off);

		if (err)
			return err;
		memmove(s->data.map + off, c->in, c->in_len);
		s->st.payload_copied += c->in_len;
		c->in = s->data.map + off;
		c->in_off = off;
		c->chunk = off;
	}
	*p = c->in + c->in_len;
	*n = IN_CAP - c->in_len;
	return 0;
}

/* Take bytes that arrived (epoll: read them) and process them. */
static void conn_input(struct server *s, struct conn *c, ssize_t got,
		       const struct paste_ref *refs, unsigned int nrefs)
{
	unsigned int i;

	if (got == 0)
		c->eof = c->closing = true;
	if (got <= 0)
		return;
	c->active_ms = now_ms();
	if (s->opt.mode != M_PASTE)
		s->st.recv_copied += got;
	if (s->opt.mode == M_PASTE) {
		for (i = 0; i < nrefs; i++)
			c->q[c->qn++] = refs[i];
		process_refs(s, c);
	} else {
		c->in_len += got;
		process_buffer(s, c);
		if (!c->closing && c->in_len == IN_CAP)
			bad_request(s, c, 413);
	}
	/* Bytes left over are the start of a request still arriving. */
	if (!(s->opt.mode == M_PASTE ? c->qn : c->in_len))
		c->partial_ms = 0;
	else if (!c->partial_ms)
		c->partial_ms = c->active_ms;
}

/*
 * Once a second: close connections idle for --idle-timeout, and answer 408
 * to requests not complete after --request-timeout (a slow or stalled
 * client would otherwise hold its buffers and descriptor for ever).
 */
static void sweep_timeouts(struct server *s)
{
	uint64_t now = now_ms();
	unsigned int fd;

	if (now - s->sweep_ms < 1000)
		return;
	s->sweep_ms = now;
	for (fd = 0; fd < s->max_conn; fd++) {
		struct conn *c = s->conns[fd];

		if (!c || c->closing)
			continue;
		if (c->partial_ms && now - c->partial_ms >= s->opt.request_ms) {
			bad_request(s, c, 408);
			touch(s, c);
		} else if (now - c->active_ms >= s->opt.idle_ms &&
			   c->out_len == c->out_sent) {
			c->closing = true;
			touch(s, c);
		}
	}
}

static void conn_read_epoll(struct server *s, struct conn *c)
{
	struct paste_ref refs[QMAX];
	unsigned int n;
	ssize_t got;
	int rounds;

	for (rounds = 0; rounds < 8 && !c->closing && c->out_len < OUT_MAX;
	     rounds++) {
		if (s->opt.mode == M_PASTE) {
			/* A round consumes up to QMAX references: make room. */
			if (c->ndone > ARRAY_SIZE(c->done) - QMAX &&
			    settle_refs(s, c, false)) {
				c->closing = true;
				break;
			}
			if (c->qn == QMAX) {
				bad_request(s, c, 431);
				break;
			}
			got = paste_recv(c->fd, refs, QMAX - c->qn, &n, MSG_DONTWAIT);
			if (got == -ENOBUFS) {
				/* Region exhausted: make room, try again later. */
				if (checkpoint(s))
					c->closing = true;
				break;
			}
			if (got < 0)
				got = got == -EAGAIN ? -1 : 0;
			if (got < 0)
				break;
		} else {
			char *p;
			size_t room;

			if (in_room(s, c, &p, &room)) {
				c->closing = true;
				break;
			}
			got = recv(c->fd, p, room, MSG_DONTWAIT);
			if (got < 0 && errno == EAGAIN)
				break;
			if (got < 0)
				got = 0;
			n = 0;
		}
		conn_input(s, c, got, refs, n);
	}
	touch(s, c);
}

/* ------------------------------------------------------------ connections */

static struct conn *conn_new(struct server *s, int fd)
{
	struct conn *c;
	int one = 1;

	if ((unsigned int)fd >= s->max_conn) {
		close(fd);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->active_ms = now_ms();
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->opt.mode == M_READMMAP) {
		char *p;
		size_t n;

		int err = chunk_alloc(s, &c->in_off);

		c->chunk = c->in_off;
		c->in = s->data.map + c->in_off;
		if (err || in_room(s, c, &p, &n)) {
			free(c);
			close(fd);
			return NULL;
		}
	} else if (s->opt.mode != M_PASTE) {
		c->in = malloc(IN_CAP);
		if (!c->in) {
			free(c);
			close(fd);
			return NULL;
		}
	}
	s->conns[fd] = c;
	return c;
}

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_SIGNAL, OP_TIMER };

static void uring_arm(struct server *s, int op, int fd, void *buf, size_t len);

/*
 * Out of descriptors (or memory) for another connection: stop accepting
 * until one closes, instead of waking up for the same failure forever.
 */
static bool accept_pause(struct server *s, int err)
{
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return false;
	s->accept_paused = true;
	if (!s->opt.uring)
		epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lsn, NULL);
	return true;
}

static void accept_resume(struct server *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = s->lsn };

	if (!s->accept_paused || s->stop)
		return;
	s->accept_paused = false;
	if (s->opt.uring)
		uring_arm(s, OP_ACCEPT, s->lsn, NULL, 0);
	else
		epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lsn, &ev);
}

static void conn_close(struct server *s, struct conn *c)
{
	int err = settle_refs(s, c, true);

	/*
	 * Logged buffers that could not be pinned, or were lost track of, go
	 * back to the kernel with the socket: put their values in a checkpoint
	 * first. If that fails too, stop: the log still references them, and
	 * after a restart no other connection has had the chance to reuse them.
	 */
	if (c->unsettled) {
		fprintf(stderr, "pasted: settling buffers: %s; checkpointing\n",
			err ? strerror(-err) : "failed before");
		err = checkpoint(s);
		if (err) {
			fprintf(stderr, "pasted: checkpoint: %s; stopping\n",
				strerror(-err));
			s->fatal = err;
			s->stop = true;
		}
	}
	free(c->held);
	s->conns[c->fd] = NULL;
	close(c->fd);
	if (s->opt.mode != M_PASTE && s->opt.mode != M_READMMAP)
		free(c->in);
	free(c->out);
	free(c);
	accept_resume(s);
}

/* Send what is queued; 0 when all is sent. */
static int conn_send(struct conn *c)
{
	while (c->out_sent < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_sent,
				 c->out_len - c->out_sent, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN ? -EAGAIN : -EPIPE;
		c->out_sent += n;
	}
	c->out_len = c->out_sent = 0;
	return 0;
}

/* ------------------------------------------------------------ epoll loop */

static int run_epoll(struct server *s)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	int ep = epoll_create1(EPOLL_CLOEXEC), i, n;
	unsigned int k;

	if (ep < 0)
		return -errno;
	s->ep = ep;
	ev.data.fd = s->lsn;
	epoll_ctl(ep, EPOLL_CTL_ADD, s->lsn, &ev);
	ev.data.fd = s->sigfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, s->sigfd, &ev);

	while (!s->stop) {
		n = epoll_wait(ep, evs, 256, 1000);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			struct conn *c;

			if (fd == s->sigfd) {
				s->stop = true;
			} else if (fd == s->lsn) {
				int cfd;

				while ((cfd = accept4(s->lsn, NULL, NULL,
						      SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					c = conn_new(s, cfd);
					if (!c)
						continue;
					ev.events = EPOLLIN | EPOLLRDHUP;
					ev.data.fd = cfd;
					epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
				}
				accept_pause(s, errno);
			} else if ((c = s->conns[fd])) {
				conn_read_epoll(s, c);
			}
		}
		sweep_timeouts(s);
		/* One group commit, then the answers. */
		if (commit(s))
			return -EIO;
		for (k = 0, n = 0; k < s->ntouched; k++) {
			struct conn *c = s->touched[k];
			int err;

			c->touched = false;
			err = settle_refs(s, c, false);
			if (!err)
				err = conn_send(c);
			ev.data.fd = c->fd;
			if (err == -EAGAIN) {
				/* Retried after the next wait. */
				ev.events = EPOLLOUT;
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				c->touched = true;
				s->touched[n++] = c;
				continue;
			}
			if (err || c->closing) {
				conn_close(s, c);
				continue;
			}
			ev.events = EPOLLIN | EPOLLRDHUP;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
		s->ntouched = n;
		if (need_checkpoint(s) && checkpoint(s))
			return -EIO;
	}
	close(ep);
	return s->fatal;
}

/* ------------------------------------------------------------ io_uring loop */

#define TAG(op, fd)	(((uint64_t)(op) << 32) | (uint32_t)(fd))

static void uring_arm_recv(struct server *s, struct conn *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (!sqe)
		return;
	if (s->opt.mode == M_PASTE) {
		memset(&c->msg, 0, sizeof(c->msg));
		c->iov.iov_base = NULL;
		c->iov.iov_len = 1 << 30;
		c->msg.msg_iov = &c->iov;
		c->msg.msg_iovlen = 1;
		c->msg.msg_control = c->ctrl;
		c->msg.msg_controllen = CMSG_SPACE(sizeof(struct paste_ref)) *
					(QMAX - c->qn);
		io_uring_prep_recvmsg(sqe, c->fd, &c->msg, MSG_PASTE);
	} else {
		char *p;
		size_t n;

		if (in_room(s, c, &p, &n)) {
			c->closing = true;
			return;
		}
		io_uring_prep_recv(sqe, c->fd, p, n, 0);
	}
	io_uring_sqe_set_data64(sqe, TAG(OP_RECV, c->fd));
	c->recv_armed = true;
}

static void uring_arm(struct server *s, int op, int fd, void *buf, size_t len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (!sqe)
		return;
	if (op == OP_ACCEPT)
		io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
	else if (op == OP_TIMER)
		io_uring_prep_timeout(sqe, &s->tick, 0, 0);
	else if (op == OP_SIGNAL)
		io_uring_prep_read(sqe, fd, buf, len, 0);
	else
		io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, TAG(op, fd));
}

static void uring_complete(struct server *s, uint64_t tag, int res,
			   struct signalfd_siginfo *si)
{
	int op = tag >> 32, fd = (int)(uint32_t)tag;
	struct conn *c = fd >= 0 && (unsigned int)fd < s->max_conn ? s->conns[fd] : NULL;
	struct paste_ref refs[QMAX];
	unsigned int n = 0;
	struct cmsghdr *cm;

	switch (op) {
	case OP_SIGNAL:
		s->stop = true;
		break;
	case OP_TIMER:
		/* Wakes the loop once a second for sweep_timeouts(). */
		uring_arm(s, OP_TIMER, -1, NULL, 0);
		break;
	case OP_ACCEPT:
		if (res >= 0 && (c = conn_new(s, res)))
			touch(s, c);
		if (res >= 0 || !accept_pause(s, -res))
			uring_arm(s, OP_ACCEPT, s->lsn, NULL, 0);
		break;
	case OP_RECV:
		if (!c)
			break;
		c->recv_armed = false;
		if (res == -ENOBUFS) {
			if (checkpoint(s))
				c->closing = true;
		} else if (res < 0 && res != -EAGAIN && res != -EINTR) {
			c->closing = true;
		} else if (res >= 0) {
			if (s->opt.mode == M_PASTE)
				for (cm = CMSG_FIRSTHDR(&c->msg); cm;
				     cm = CMSG_NXTHDR(&c->msg, cm))
					memcpy(&refs[n++], CMSG_DATA(cm), sizeof(refs[0]));
			conn_input(s, c, res, refs, n);
		}
		touch(s, c);
		break;
	case OP_SEND:
		if (!c)
			break;
		c->send_busy = false;
		if (res < 0)
			c->closing = true;
		else
			c->out_sent += res;
		if (c->out_sent == c->out_len)
			c->out_len = c->out_sent = 0;
		touch(s, c);
		break;
	}
	(void)si;
}

static int run_uring(struct server *s)
{
	struct signalfd_siginfo si;
	struct io_uring_cqe *cqe;
	unsigned int head, k, n;
	int err;

	err = io_uring_queue_init(4096, &s->ring, 0);
	if (err)
		return err;
	uring_arm(s, OP_ACCEPT, s->lsn, NULL, 0);
	uring_arm(s, OP_SIGNAL, s->sigfd, &si, sizeof(si));
	s->tick.tv_sec = 1;
	uring_arm(s, OP_TIMER, -1, NULL, 0);

	while (!s->stop) {
		err = io_uring_submit_and_wait(&s->ring, 1);
		if (err < 0 && err != -EINTR)
			return err;
		/* Reap the whole batch of completions first. */
		n = 0;
		io_uring_for_each_cqe(&s->ring, head, cqe) {
			uring_complete(s, cqe->user_data, cqe->res, &si);
			n++;
		}
		io_uring_cq_advance(&s->ring, n);

		sweep_timeouts(s);
		if (commit(s))
			return -EIO;
		for (k = 0; k < s->ntouched; k++) {
			struct conn *c = s->touched[k];

			c->touched = false;
			if (settle_refs(s, c, false))
				c->closing = true;
			if (c->out_len > c->out_sent && !c->send_busy) {
				uring_arm(s, OP_SEND, c->fd, c->out + c->out_sent,
					  c->out_len - c->out_sent);
				c->send_busy = true;
			}
			if (c->closing && !c->send_busy && !c->recv_armed) {
				conn_close(s, c);
				continue;
			}
			if (c->closing && c->recv_armed) {
				shutdown(c->fd, SHUT_RD);
				continue;
			}
			/* One receive or one send in flight: the output buffer
			 * must not move under a send. */
			if (!c->closing && !c->recv_armed && !c->send_busy)
				uring_arm_recv(s, c);
		}
		s->ntouched = 0;
		if (need_checkpoint(s) && checkpoint(s))
			return -EIO;
	}
	io_uring_queue_exit(&s->ring);
	return s->fatal;
}

/* ------------------------------------------------------------ recovery */

static int snapshot_load(struct server *s)
{
	char path[512];
	uint32_t hdr[3];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/pasted.snapshot", s->opt.dir);
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fread(hdr, sizeof(hdr), 1, f) == 1) {
		struct kv_val v = { .where = KV_HEAP, .len = hdr[2] };
		char key[HTTP_MAX_KEY];

		if (hdr[0] != REC_MAGIC || hdr[1] > HTTP_MAX_KEY ||
		    hdr[2] > HTTP_MAX_BODY) {
			err = -EINVAL;
			break;
		}
		v.heap = malloc(v.len ? v.len : 1);
		if (!v.heap || fread(key, hdr[1], 1, f) != 1 ||
		    (v.len && fread(v.heap, v.len, 1, f) != 1)) {
			free(v.heap);
			err = -EIO;
			break;
		}
		err = kv_put(&s->kv, key, hdr[1], &v);
		if (err)
			break;
	}
	fclose(f);
	return err;
}

struct recover_ctx {
	struct server *s;
	struct paste_range *owned;
	unsigned int nowned, cap;
	int err;
};

/* A WAL record is one POST request: re-parse it from where it lies. */
static int recover_record(void *arg, const struct paste_wal_rec *p,
			  unsigned int n)
{
	struct recover_ctx *rc = arg;
	struct server *s = rc->s;
	char buf[IN_CAP];
	struct located at = { .buf = buf };
	struct http_req req;
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (len + p[i].len > sizeof(buf) || at.n == ARRAY_SIZE(at.p))
			return -EINVAL;
		memcpy(buf + len, s->data.map + p[i].offset, p[i].len);
		len += p[i].len;
		at.p[at.n].off = p[i].offset;
		at.p[at.n++].len = p[i].len;
		if (rc->nowned < rc->cap) {
			rc->owned[rc->nowned].offset = p[i].offset;
			rc->owned[rc->nowned++].length = p[i].len;
		}
		if (p[i].offset + p[i].len > s->data_tail)
			s->data_tail = (p[i].offset + p[i].len + 63) & ~63ULL;
	}
	if (http_parse(buf, len, &req) != 1 || req.method != HTTP_POST ||
	    req.header_len + req.body_len != len)
		return -EINVAL;
	{
		struct kv_val v = { .where = KV_DATA, .len = req.body_len };
		int err = body_pieces(&at, req.header_len, req.body_len, &v);

		return err ? err : kv_put(&s->kv, req.key, req.key_len, &v);
	}
}

static int fsync_log_recover(struct server *s)
{
	uint32_t rec[4];
	uint64_t off = 0;
	struct stat st;

	if (fstat(s->logfd, &st))
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
	/* A torn tail was never acknowledged: cut it off. */
	if (off != (uint64_t)st.st_size && (ftruncate(s->logfd, off) || fsync(s->logfd)))
		return -errno;
	s->log_len = off;
	return 0;
}

/*
 * One table entry per possible descriptor: raise the soft RLIMIT_NOFILE to
 * the hard one (at most MAX_CONN), so that every connection the kernel lets
 * us accept has a place.
 */
static int conns_alloc(struct server *s)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur < MAX_CONN && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < MAX_CONN ? rl.rlim_max : MAX_CONN;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			return -errno;
	}
	s->max_conn = rl.rlim_cur < MAX_CONN ? rl.rlim_cur : MAX_CONN;
	s->conns = calloc(s->max_conn, sizeof(*s->conns));
	s->touched = calloc(s->max_conn, sizeof(*s->touched));
	return s->conns && s->touched ? 0 : -ENOMEM;
}

/*
 * Refuse files that another mode or another --region size left: the fsync
 * modes ignore the WAL, paste and memcpy/readmmap would read it against
 * another data file, and a data file of another size would be created anew,
 * empty. Either way logged values would be lost. An empty pasted.log holds
 * nothing (its values are in the snapshot); a data file without a WAL holds
 * nothing logged either.
 */
static int storage_check(const struct server *s)
{
	static const struct {
		const char *name;
		unsigned int modes;	/* modes that own the file */
		const char *owners;
	} files[] = {
		{ "log", 1U << M_FSYNC | 1U << M_FDATASYNC, "fsync or fdatasync" },
		{ "data", 1U << M_MEMCPY | 1U << M_READMMAP, "memcpy or readmmap" },
		{ "region", 1U << M_PASTE, "paste" },
		{ "wal", 1U << M_MEMCPY | 1U << M_READMMAP | 1U << M_PASTE,
		  "memcpy, readmmap or paste" },
	};
	const char *mode = mode_names[s->opt.mode];
	const char *own = s->opt.mode == M_PASTE ? "region" : "data";
	struct stat st;
	char path[512];
	bool has_wal;
	unsigned int i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/pasted.%s", s->opt.dir, files[i].name);
		if (stat(path, &st)) {
			if (errno == ENOENT)
				continue;
			return die_errno(path, errno);
		}
		if ((files[i].modes & 1U << s->opt.mode) ||
		    (!strcmp(files[i].name, "log") && !st.st_size))
			continue;
		fprintf(stderr, "pasted: refusing to start in mode %s: %s belongs to mode %s and its values would be lost; start in that mode, or move the pasted.* files away\n",
			mode, path, files[i].owners);
		return 1;
	}
	if (s->opt.mode < M_MEMCPY)
		return 0;
	snprintf(path, sizeof(path), "%s/pasted.wal", s->opt.dir);
	has_wal = !stat(path, &st);
	snprintf(path, sizeof(path), "%s/pasted.%s", s->opt.dir, own);
	if (stat(path, &st)) {
		if (errno != ENOENT)
			return die_errno(path, errno);
		if (!has_wal)
			return 0;
		fprintf(stderr, "pasted: refusing to start: %s/pasted.wal references %s, which is missing\n",
			s->opt.dir, path);
		return 1;
	}
	if (has_wal && (uint64_t)st.st_size != s->opt.region_len) {
		fprintf(stderr, "pasted: refusing to start: %s has %" PRIu64 " bytes, --region %" PRIu64 " MiB asks for %" PRIu64 "; a new file would lose its logged values: start with the -r it was created with\n",
			path, (uint64_t)st.st_size, s->opt.region_len >> 20,
			s->opt.region_len);
		return 1;
	}
	return 0;
}

static int setup_storage(struct server *s, struct recover_ctx *rc)
{
	unsigned int flags = s->opt.allow_nosync ? PASTE_MAP_ALLOW_NOSYNC : 0;
	char path[512];
	int err, records;

	err = snapshot_load(s);
	if (err)
		return err;
	switch (s->opt.mode) {
	case M_NONE:
		return 0;
	case M_FSYNC:
	case M_FDATASYNC:
		snprintf(path, sizeof(path), "%s/pasted.log", s->opt.dir);
		s->logfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (s->logfd < 0)
			return -errno;
		return fsync_log_recover(s);
	default:
		break;
	}
	snprintf(path, sizeof(path), "%s/pasted.%s", s->opt.dir,
		 s->opt.mode == M_PASTE ? "region" : "data");
	err = paste_region_open(&s->data, path, flags);
	if (err == -ENOENT || (!err && s->data.len != s->opt.region_len)) {
		if (!err)
			paste_region_close(&s->data);
		err = paste_region_create(&s->data, path, s->opt.region_len, flags);
	}
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/pasted.wal", s->opt.dir);
	if (s->opt.kernel_flush)
		flags |= PASTE_WAL_PAYLOAD_DURABLE;
	err = paste_wal_open(&s->wal, path, s->opt.wal_entries, s->data.map,
			     s->data.len, flags);
	if (err)
		return err;
	s->has_wal = true;
	rc->cap = s->wal.capacity;
	rc->owned = calloc(rc->cap, sizeof(*rc->owned));
	if (!rc->owned)
		return -ENOMEM;
	records = paste_wal_recover(&s->wal, recover_record, rc);
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

/* ------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f,
"usage: pasted [options]\n"
"  -m, --mode MODE      none|fsync|fdatasync|memcpy|readmmap|paste (paste)\n"
"  -l, --loop LOOP      epoll|uring (epoll)\n"
"  -p, --port PORT      TCP port (8080)\n"
"  -d, --dir DIR        directory on a DAX filesystem (/mnt/pmem)\n"
"  -r, --region MIB     region / log area size in MiB (64)\n"
"  -w, --wal ENTRIES    WAL capacity in entries (262144)\n"
"      --allow-nosync   accept a non-MAP_SYNC mapping (tests; not durable)\n"
"      --reply-bytes N  pad 201 responses to N bytes (benchmarks)\n"
"      --slot-size N    paste mode: region buffer size, a power of two\n"
"                       up to the page size (the page size)\n"
"      --kernel-flush   paste mode: the kernel makes payloads durable as it\n"
"                       places them (PASTE_REGION_DURABLE); commits write\n"
"                       only WAL entries\n"
"      --idle-timeout S     close a connection that sent nothing for S\n"
"                       seconds (60)\n"
"      --request-timeout S  answer 408 and close when a request is not\n"
"                       complete S seconds after its first byte (10)\n"
"      --zero-copy IF   paste mode: bind receive queue 0 of network device\n"
"                       IF to the region, so that it receives straight\n"
"                       into it (needs CAP_NET_ADMIN and a driver that\n"
"                       can, e.g. virtio-net)\n"
"  -q, --quiet          no summary at exit\n"
"  -h, --help           this text\n"
"POST /<key> stores the body durably before answering 201; GET /<key>\n"
"returns it. SIGTERM or SIGINT stops the server cleanly.\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option lopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "loop", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "dir", required_argument, NULL, 'd' },
		{ "region", required_argument, NULL, 'r' },
		{ "wal", required_argument, NULL, 'w' },
		{ "allow-nosync", no_argument, NULL, 'N' },
		{ "kernel-flush", no_argument, NULL, 'K' },
		{ "reply-bytes", required_argument, NULL, 'R' },
		{ "slot-size", required_argument, NULL, 'S' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "request-timeout", required_argument, NULL, 'T' },
		{ "zero-copy", required_argument, NULL, 'Z' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned int i;
	int ch;

	*o = (struct options){ .mode = M_PASTE, .port = 8080, .dir = "/mnt/pmem",
			       .region_len = 64ULL << 20, .wal_entries = 262144,
			       .idle_ms = 60000, .request_ms = 10000 };
	while ((ch = getopt_long(argc, argv, "m:l:p:d:r:w:qh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			for (i = 0; i < 6 && strcmp(optarg, mode_names[i]); i++)
				;
			if (i == 6) {
				fprintf(stderr, "pasted: unknown mode '%s'\n", optarg);
				return -1;
			}
			o->mode = i;
			break;
		case 'l':
			if (strcmp(optarg, "epoll") && strcmp(optarg, "uring") &&
			    strcmp(optarg, "io_uring")) {
				fprintf(stderr, "pasted: unknown loop '%s'\n", optarg);
				return -1;
			}
			o->uring = strcmp(optarg, "epoll");
			break;
		case 'p':
			o->port = atoi(optarg);
			if (o->port <= 0 || o->port > 65535) {
				fprintf(stderr, "pasted: bad port '%s'\n", optarg);
				return -1;
			}
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'r':
			o->region_len = strtoull(optarg, NULL, 10) << 20;
			if (!o->region_len || o->region_len > (16ULL << 30)) {
				fprintf(stderr, "pasted: bad region size '%s'\n", optarg);
				return -1;
			}
			break;
		case 'w':
			o->wal_entries = strtoul(optarg, NULL, 10);
			if (o->wal_entries < 1024) {
				fprintf(stderr, "pasted: WAL needs >= 1024 entries\n");
				return -1;
			}
			break;
		case 'N':
			o->allow_nosync = true;
			break;
		case 'K':
			o->kernel_flush = true;
			break;
		case 'S':
			/* The kernel checks it: EINVAL names a bad size. */
			o->slot_size = strtoul(optarg, NULL, 10);
			break;
		case 'R':
			o->reply_bytes = strtoul(optarg, NULL, 10);
			if (o->reply_bytes > REPLY_MAX) {
				fprintf(stderr, "pasted: --reply-bytes at most %d\n",
					REPLY_MAX);
				return -1;
			}
			break;
		case 'I':
		case 'T':
			i = strtoul(optarg, NULL, 10);
			if (!i || i > 86400) {
				fprintf(stderr, "pasted: bad timeout '%s' (1 to 86400 s)\n",
					optarg);
				return -1;
			}
			*(ch == 'I' ? &o->idle_ms : &o->request_ms) = i * 1000;
			break;
		case 'Z':
			o->rx_ifname = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	if (o->rx_ifname && o->mode != M_PASTE) {
		fprintf(stderr, "pasted: --zero-copy needs paste mode\n");
		return -1;
	}
	if (o->kernel_flush && o->mode != M_PASTE) {
		fprintf(stderr, "pasted: --kernel-flush needs --mode paste\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct server *s = calloc(1, sizeof(*s));
	struct recover_ctx rc = { .s = s };
	bool *seen;
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_ANY_INIT };
	sigset_t mask;
	int one = 1, err;

	if (!s || parse_args(argc, argv, &s->opt))
		return 2;
	s->logfd = -1;
	s->data.fd = -1;
	if (kv_init(&s->kv))
		return die_errno("index", ENOMEM);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	if (storage_check(s))
		return 1;
	err = conns_alloc(s);
	if (err)
		return die_errno("connection table", err);
	err = setup_storage(s, &rc);
	if (err)
		return die_errno("storage", err);

	s->lsn = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	a.sin6_port = htons(s->opt.port);
	setsockopt(s->lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s->lsn < 0 || bind(s->lsn, (struct sockaddr *)&a, sizeof(a)))
		return die_errno("bind", errno);
	/* Attach before listen(): a connection accepted earlier has no region. */
	if (s->opt.mode == M_PASTE) {
		struct paste_sock_info info;
		socklen_t len = sizeof(info);

		/* The WAL still references these buffers: never hand them out. */
		err = paste_region_attach(&s->data, s->lsn,
					  (s->data.sync ? 0 : PASTE_REGION_VOLATILE) |
					  (s->opt.kernel_flush ? PASTE_REGION_DURABLE : 0),
					  s->opt.slot_size, rc.owned, rc.nowned);
		if (err == -ENOPROTOOPT)
			fprintf(stderr, "pasted: this kernel has no PASTE (SO_PASTE_REGION)\n");
		if (err)
			return die_errno("attach region", err);
		if (s->opt.rx_ifname) {
			struct paste_rxq_bind b = {
				.ifindex = if_nametoindex(s->opt.rx_ifname),
			};

			if (!b.ifindex)
				return die_errno(s->opt.rx_ifname, errno);
			if (ioctl(s->lsn, SIOCPASTEBIND, &b))
				return die_errno("bind rx queue (SIOCPASTEBIND)",
						 errno);
		}
		if (getsockopt(s->lsn, SOL_SOCKET, SO_PASTE_REGION, &info, &len))
			return die_errno("region info", errno);
		s->nr_slots = info.nr_slots;
		s->pinned = calloc(s->nr_slots, sizeof(*s->pinned));
		seen = calloc(s->nr_slots, sizeof(*seen));
		if (!s->pinned || !seen)
			return die_errno("pinned", ENOMEM);
		/*
		 * Recovered buffers are pinned already: release at checkpoint.
		 * The records of connections interleave in the log, so one
		 * buffer can come up again after others: list each once, or
		 * the list outgrows the region.
		 */
		for (unsigned int i = 0; i < rc.nowned; i++) {
			uint64_t first = rc.owned[i].offset / info.slot_size;
			uint64_t last = (rc.owned[i].offset + rc.owned[i].length - 1) /
					info.slot_size;

			for (; first <= last && first < s->nr_slots; first++) {
				if (seen[first])
					continue;
				seen[first] = true;
				s->pinned[s->npinned++] = first;
			}
		}
		free(seen);
	}
	free(rc.owned);
	if (listen(s->lsn, 1024))
		return die_errno("listen", errno);

	printf("pasted: mode %s, loop %s, port %d, %s %s (%" PRIu64 " MiB%s), log %s, %zu keys recovered, flush %s\n",
	       mode_names[s->opt.mode], s->opt.uring ? "io_uring" : "epoll",
	       s->opt.port,
	       s->opt.mode == M_PASTE ? "region" : "data",
	       s->opt.mode >= M_MEMCPY ? s->opt.dir : "-",
	       s->data.len >> 20, s->data.sync || s->opt.mode < M_MEMCPY ? "" : ", NOT MAP_SYNC",
	       s->opt.mode == M_NONE ? "none" :
	       s->opt.mode <= M_FDATASYNC ? "pasted.log" : "pasted.wal",
	       s->kv.n, s->opt.kernel_flush ? "by the kernel (payloads)" :
	       paste_flush_insn());
	fflush(stdout);

	err = s->opt.uring ? run_uring(s) : run_epoll(s);
	if (err)
		return die_errno("event loop", err);
	if (commit(s))
		return die_errno("final commit", EIO);
	if (!s->opt.quiet)
		printf("pasted: stopped: %" PRIu64 " requests (%" PRIu64 " POST, %" PRIu64
		       " GET, %" PRIu64 " errors), %" PRIu64 " commits, %" PRIu64
		       " checkpoints, payload bytes copied %" PRIu64 ", head bytes gathered %" PRIu64
		       ", kernel copies: %" PRIu64 " received, %" PRIu64 " written\n",
		       s->st.requests, s->st.posts, s->st.gets, s->st.errors,
		       s->st.commits, s->st.checkpoints, s->st.payload_copied,
		       s->st.header_copied, s->st.recv_copied, s->st.write_copied);
	for (unsigned int fd = 0; fd < s->max_conn; fd++)
		if (s->conns[fd])
			conn_close(s, s->conns[fd]);
	free(s->conns);
	free(s->touched);
	if (s->has_wal)
		paste_wal_close(&s->wal);
	if (s->data.map)
		paste_region_close(&s->data);
	kv_free(&s->kv);
	free(s->pinned);
	free(s->chunk_kept);
	free(s->batch);
	free(s);
	return 0;
}
