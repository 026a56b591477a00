// SPDX-License-Identifier: MIT
/*
 * Receiving into a buffer, parsed in place: malloc()ed per connection
 * (rx_heap: none, fsync, fdatasync, memcpy), or a window on the connection's
 * chunk of the data file's log area (rx_log_area: readmmap, whose requests
 * the WAL then references where they lie).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server.h"

/*
 * Parse and handle what the input buffer holds; @keep_in_place: the bytes
 * of a partial request stay where they are and the window moves (readmmap)
 * rather than move to the start of the buffer.
 */
static void process_buffer(struct server *s, struct conn *c, bool keep_in_place)
{
	size_t pos = 0;

	c->stalled = false;
	while (!c->closing && pos < c->in_len) {
		struct http_req req;
		struct located at;	/* one piece: no zeroing */
		int ret;

		if (conn_backlogged(c)) {
			c->stalled = true;
			break;
		}
		ret = http_parse(c->in + pos, c->in_len - pos, &req);
		if (ret < 0) {
			bad_request(s, c, -ret);
			break;
		}
		if (!ret)
			break;
		if (c->in_len - pos < req.header_len + req.body_len) {
			conn_continue(c, &req);
			break;
		}
		at.buf = c->in + pos;
		at.n = 1;
		at.p[0].off = c->in_off + pos;
		at.p[0].len = req.header_len + req.body_len;
		handle_request(s, c, &req, &at, c->in + pos + req.header_len);
		pos += req.header_len + req.body_len;
	}
	if (pos) {
		/* Keep the partial request; in readmmap the bytes stay in
		 * place and the buffer window moves. */
		if (keep_in_place) {
			c->in += pos;
			c->in_off += pos;
		} else {
			memmove(c->in, c->in + pos, c->in_len - pos);
		}
		c->in_len -= pos;
	}
	if (!c->closing && !c->stalled && c->in_len == IN_CAP)
		bad_request(s, c, 413);
}

/*
 * Room for the next receive. readmmap: the window must end inside the chunk
 * the connection owns. When consumed bytes end exactly at its end, @in_off
 * is the next chunk's first byte, which may be another connection's:
 * compare with @chunk, never with a chunk derived from @in_off. A
 * connection accepted while the area was full has no chunk yet.
 */
static int rx_room(struct server *s, struct conn *c, char **p, size_t *n)
{
	if (s->store->rx == &rx_log_area &&
	    (!c->in || c->in_off + c->in_len + IN_CAP > c->chunk + CHUNK)) {
		/* Too close to the chunk end: continue in a fresh chunk. */
		uint64_t off;
		int err = chunk_alloc(s, &off);

		if (err)
			return err;
		if (!c->in)
			s->chunk_conns++;
		else if (c->in_len)
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

static int heap_init(struct server *s, struct conn *c)
{
	(void)s;
	c->in = malloc(IN_CAP);
	return c->in ? 0 : -ENOMEM;
}

static int heap_exit(struct server *s, struct conn *c)
{
	(void)s;
	free(c->in);
	return 0;
}

/*
 * readmmap: a chunk at once, or (the area full) once a checkpoint frees
 * one; refused when none would free any, every chunk being a connection's.
 */
static int log_area_init(struct server *s, struct conn *c)
{
	char *p;
	size_t n;
	int err = rx_room(s, c, &p, &n);

	if (err == -ENOSPC && chunk_freeable(s)) {
		s->checkpoint_wanted = true;
		return 0;
	}
	return err;
}

static int log_area_exit(struct server *s, struct conn *c)
{
	if (c->in)
		s->chunk_conns--;
	return 0;
}

/*
 * Room for the next receive: a connection without (the log area is full
 * until a checkpoint) waits for one, or closes if no checkpoint helps.
 */
static int buffer_prepare(struct server *s, struct conn *c)
{
	char *p;
	size_t n;
	int err = rx_room(s, c, &p, &n);

	if (!err)
		return 0;
	if (err == -ENOSPC && chunk_freeable(s))
		conn_starve(s, c, true);
	else
		c->closing = true;
	return -1;
}

static ssize_t buffer_recv(struct server *s, struct conn *c,
			   struct paste_ref *refs, unsigned int *nrefs)
{
	char *p;
	size_t n;
	ssize_t got;

	(void)refs;
	*nrefs = 0;
	if (rx_room(s, c, &p, &n))
		return -ENOBUFS;
	got = recv(c->fd, p, n, MSG_DONTWAIT);
	return got < 0 ? -errno : got;
}

static void buffer_prep_recv(struct server *s, struct conn *c,
			     struct io_uring_sqe *sqe)
{
	char *p = NULL;
	size_t n = 0;

	/* buffer_prepare() made the room. */
	rx_room(s, c, &p, &n);
	io_uring_prep_recv(sqe, c->fd, p, n, 0);
}

static unsigned int buffer_received(struct conn *c, struct paste_ref *refs)
{
	(void)c;
	(void)refs;
	return 0;
}

static void buffer_input(struct server *s, struct conn *c, size_t got,
			 const struct paste_ref *refs, unsigned int nrefs)
{
	(void)refs;
	(void)nrefs;
	s->st.recv_copied += got;
	c->in_len += got;
}

static void heap_process(struct server *s, struct conn *c)
{
	process_buffer(s, c, false);
}

static void log_area_process(struct server *s, struct conn *c)
{
	process_buffer(s, c, true);
}

static bool buffer_partial(const struct server *s, const struct conn *c)
{
	(void)s;
	return !http_is_blank(c->in, c->in_len);
}

const struct rx_ops rx_heap = {
	.data_file = "data",
	.conn_init = heap_init,
	.conn_exit = heap_exit,
	.prepare = buffer_prepare,
	.recv = buffer_recv,
	.prep_recv = buffer_prep_recv,
	.received = buffer_received,
	.input = buffer_input,
	.process = heap_process,
	.partial = buffer_partial,
};

const struct rx_ops rx_log_area = {
	.data_file = "data",
	.conn_init = log_area_init,
	.conn_exit = log_area_exit,
	.prepare = buffer_prepare,
	.recv = buffer_recv,
	.prep_recv = buffer_prep_recv,
	.received = buffer_received,
	.input = buffer_input,
	.process = log_area_process,
	.partial = buffer_partial,
};
