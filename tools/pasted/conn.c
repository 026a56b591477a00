// SPDX-License-Identifier: MIT
/*
 * Connections: bytes in, requests handled, responses queued for after the
 * group commit, and the rules that keep one client from taking more than
 * its share (output backlog, timeouts, descriptors).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ output */

/*
 * Room for @n more bytes of output. A send in flight (io_uring) points into
 * the buffer: then the bytes move to a new one, and the old one is freed
 * only when that send completes (conn_send_done()).
 */
static int out_reserve(struct conn *c, size_t n)
{
	size_t cap = c->out_cap ? c->out_cap : 4096;
	char *p;

	if (c->out_len + n <= c->out_cap)
		return 0;
	while (cap < c->out_len + n)
		cap *= 2;
	if (!c->send_busy) {
		p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
	} else {
		p = malloc(cap);
		if (!p)
			return -ENOMEM;
		memcpy(p, c->out, c->out_len);
		/* Only the first buffer moved away is the one being sent. */
		if (c->out_sending)
			free(c->out);
		else
			c->out_sending = c->out;
	}
	c->out = p;
	c->out_cap = cap;
	return 0;
}

static int out_append(struct conn *c, const char *p, size_t n)
{
	if (!n)
		return 0;
	if (out_reserve(c, n))
		return -ENOMEM;
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

/* Queue a response head announcing @len bytes of body, and room for it. */
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
	return out_append(c, head, n);
}

static int respond(struct conn *c, int status, const char *body, size_t len,
		   bool close)
{
	int err = respond_head(c, status, len, close);

	return err ? err : out_append(c, body, len);
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
	int err = respond_head(c, 200, v->len, close);

	/* respond_head() reserved room for the value. */
	if (!err)
		err = value_read(s, v, c->out + c->out_len);
	if (!err)
		c->out_len += v->len;
	return err;
}

/* ------------------------------------------------------------ requests */

/*
 * A POST that could not be made durable: too large (413), or no room
 * until memory or a checkpoint frees some (503: try again later).
 */
static int post_failure_status(int err)
{
	if (err == -E2BIG)
		return 413;
	if (err == -ENOMEM || err == -ENOSPC)
		return 503;
	return 500;
}

/*
 * Handle one parsed request whose bytes are all here. A reply that says
 * "Connection: close" closes the connection.
 */
void handle_request(struct server *s, struct conn *c,
		    const struct http_req *req, struct located *at,
		    const char *body)
{
	struct kv_val *v;
	int err;

	s->st.requests++;
	c->continued = false;
	/* What follows is a new request, with a timeout of its own. */
	c->partial_ms = 0;
	if (req->close)
		c->closing = true;
	if (req->method == HTTP_GET) {
		s->st.gets++;
		v = kv_get(&s->kv, req->key, req->key_len);
		err = v ? respond_value(s, c, v, req->close) :
			  respond(c, 404, "not found\n", 10, req->close);
	} else {
		s->st.posts++;
		err = store_post(s, req, at, body);
		if (err) {
			s->st.errors++;
			c->closing = true;
			err = respond(c, post_failure_status(err), NULL, 0, true);
		} else {
			err = respond_created(s, c, req->close);
		}
	}
	if (err)
		c->closing = true;
}

void bad_request(struct server *s, struct conn *c, int status)
{
	s->st.errors++;
	respond(c, status, http_reason(status), strlen(http_reason(status)), true);
	c->closing = true;
}

/*
 * A head is complete and asks for "100 Continue" (RFC 9110 10.1.1) while its
 * body is not all here: say so once, so that the client sends it.
 */
void conn_continue(struct conn *c, const struct http_req *req)
{
	static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (!req->expect_continue || c->continued)
		return;
	c->continued = true;
	if (out_append(c, line, sizeof(line) - 1))
		c->closing = true;
}

/* Modes with a contiguous input buffer: parse and handle what is there. */
static void process_buffer(struct server *s, struct conn *c)
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
		if (s->store->rx == RX_LOG_AREA) {
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

/* Parse and handle what is queued; note when a request is left partial. */
void conn_process(struct server *s, struct conn *c)
{
	if (s->store->rx == RX_PASTE) {
		if (paste_make_room(s, c))
			c->closing = true;
		else
			paste_process(s, c);
	} else {
		process_buffer(s, c);
	}
	if (c->stalled)
		return;
	/*
	 * Bytes left over are the start of a request still arriving, unless
	 * they are empty lines (a CRLF some clients send after a body).
	 */
	if (s->store->rx == RX_PASTE ? !c->qn || paste_queued_blank(s, c) :
	    http_is_blank(c->in, c->in_len))
		c->partial_ms = 0;
	else if (!c->partial_ms)
		c->partial_ms = now_ms();
}

/*
 * Before a receive: paste mode needs room to consume into, and a queue
 * entry for the next reference; a full queue without a complete request
 * that compaction cannot shrink is a head or body too fragmented (431).
 * Return: 0, or -1 when the connection is closing instead.
 */
int conn_rx_prepare(struct server *s, struct conn *c)
{
	if (s->store->rx != RX_PASTE)
		return 0;
	if (paste_make_room(s, c)) {
		c->closing = true;
		return -1;
	}
	if (c->qn == QMAX && !paste_compact(s, c)) {
		bad_request(s, c, 431);
		return -1;
	}
	return 0;
}

/* Take bytes that arrived and process them. */
void conn_input(struct server *s, struct conn *c, ssize_t got,
		const struct paste_ref *refs, unsigned int nrefs)
{
	unsigned int i;

	if (got == 0)
		c->eof = c->closing = true;
	if (got <= 0)
		return;
	c->active_ms = now_ms();
	if (s->store->rx == RX_PASTE) {
		for (i = 0; i < nrefs; i++)
			c->q[c->qn++] = refs[i];
	} else {
		s->st.recv_copied += got;
		c->in_len += got;
	}
	conn_process(s, c);
}

/*
 * Should the loop receive more for @c? Not while its answers back up, nor
 * while the region has no buffer for it.
 */
bool conn_wants_input(const struct conn *c)
{
	return !c->closing && !c->stalled && !c->starved && !conn_backlogged(c);
}

/*
 * Room for the next receive. readmmap: the window must end inside the chunk
 * the connection owns. When consumed bytes end exactly at its end, @in_off
 * is the next chunk's first byte, which may be another connection's:
 * compare with @chunk, never with a chunk derived from @in_off.
 */
int conn_rx_room(struct server *s, struct conn *c, char **p, size_t *n)
{
	if (s->store->rx == RX_LOG_AREA &&
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

void touch(struct server *s, struct conn *c)
{
	if (!c->touched) {
		c->touched = true;
		s->touched[s->ntouched++] = c;
	}
}

/* The output drained: input a backlog held back is parsed next round. */
void conn_sent(struct server *s, struct conn *c)
{
	c->out_len = c->out_sent = 0;
	if (c->stalled && !c->pending && !c->closing) {
		c->pending = true;
		s->pending[s->npending++] = c->fd;
	}
}

/* After the group commit: settle what was consumed; a failure closes. */
void conn_settle(struct server *s, struct conn *c)
{
	if (s->store->rx == RX_PASTE && paste_settle(s, c, false))
		c->closing = true;
}

/*
 * Give up on a connection that has neither sent nor read a byte for
 * --idle-timeout: a client that stops reading would otherwise keep its
 * answers, its buffers and its descriptor for ever. Its answers are
 * dropped; a send in flight (io_uring) fails once the socket is shut down.
 */
static void conn_abandon(struct server *s, struct conn *c)
{
	c->closing = true;
	if (c->send_busy)
		shutdown(c->fd, SHUT_RDWR);
	else
		c->out_len = c->out_sent = 0;
	touch(s, c);
}

/*
 * Once a second: answer 408 to requests not complete after
 * --request-timeout, and abandon connections idle for --idle-timeout in
 * both directions (closing ones too: their last answer may never go).
 */
static void sweep_timeouts(struct server *s, uint64_t now)
{
	unsigned int fd;

	for (fd = 0; fd < s->max_conn; fd++) {
		struct conn *c = s->conns[fd];

		if (!c)
			continue;
		if (!c->closing && c->partial_ms &&
		    now - c->partial_ms >= s->opt.request_ms) {
			bad_request(s, c, 408);
			touch(s, c);
		} else if (now - c->active_ms >= s->opt.idle_ms) {
			conn_abandon(s, c);
		}
	}
}

/*
 * Every round, before the group commit: parse input held back by a backlog
 * that has drained, retry starved connections, and once a second (@tick)
 * look for timed-out ones.
 */
void housekeeping(struct server *s, uint64_t now, bool tick)
{
	unsigned int i, n = s->npending;

	s->npending = 0;
	for (i = 0; i < n; i++) {
		struct conn *c = s->conns[s->pending[i]];

		if (!c || !c->pending)
			continue;
		c->pending = false;
		conn_process(s, c);
		touch(s, c);
	}
	if (s->store->rx == RX_PASTE)
		paste_retry_starved(s, tick);
	if (tick)
		sweep_timeouts(s, now);
}

/* ------------------------------------------------------------ lifetime */

struct conn *conn_new(struct server *s, int fd)
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
	if (s->store->rx == RX_LOG_AREA) {
		char *p;
		size_t n;
		int err = chunk_alloc(s, &c->in_off);

		c->chunk = c->in_off;
		c->in = s->data.map + c->in_off;
		if (err || conn_rx_room(s, c, &p, &n)) {
			free(c);
			close(fd);
			return NULL;
		}
	} else if (s->store->rx == RX_HEAP) {
		c->in = malloc(IN_CAP);
		if (!c->in) {
			free(c);
			close(fd);
			return NULL;
		}
	}
	s->conns[fd] = c;
	s->nconns++;
	return c;
}

/*
 * Out of descriptors (or memory) for another connection: stop accepting
 * until one closes, instead of waking up for the same failure forever.
 */
bool accept_pause(struct server *s, int err)
{
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return false;
	s->accept_paused = true;
	return true;
}

void conn_close(struct server *s, struct conn *c)
{
	int err = s->store->rx == RX_PASTE ? paste_settle(s, c, true) : 0;

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
	s->nconns--;
	close(c->fd);
	if (s->store->rx == RX_HEAP)
		free(c->in);
	free(c->out);
	free(c->out_sending);
	free(c);
	if (s->accept_paused && !s->stop) {
		s->accept_paused = false;
		s->loop->accept_resume(s);
	}
}

/* Send what is queued: 0 when all is sent, -EAGAIN, or -EPIPE. */
int conn_send(struct server *s, struct conn *c)
{
	while (c->out_sent < c->out_len) {
		int err = fault_hit(&s->faults, FAULT_SEND);
		ssize_t n = err ? -1 : send(c->fd, c->out + c->out_sent,
					    c->out_len - c->out_sent,
					    MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && !err)
			err = errno;
		conn_send_done(s, c, n < 0 ? -err : n);
		if (err == EAGAIN)
			return -EAGAIN;
		if (err)
			return -EPIPE;
	}
	return 0;
}

/*
 * A send of @res bytes (or -errno) finished. A failed one drops every
 * answer still queued: the peer is gone, and retrying would spin.
 */
void conn_send_done(struct server *s, struct conn *c, int res)
{
	free(c->out_sending);
	c->out_sending = NULL;
	if (res == -EAGAIN)
		return;
	if (res < 0) {
		c->closing = true;
		c->out_len = c->out_sent = 0;
		return;
	}
	if (res > 0)
		c->active_ms = now_ms();
	c->out_sent += res;
	if (c->out_sent == c->out_len)
		conn_sent(s, c);
}
