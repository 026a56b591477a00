// SPDX-License-Identifier: MIT
/*
 * A connection's answers: queued in its output buffer during a round,
 * sent after the group commit (conn_send() by the epoll loop, a submitted
 * send by the io_uring loop, both finished by conn_send_done()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server.h"

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
int respond_head(struct conn *c, int status, size_t len, bool close)
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

int respond(struct conn *c, int status, const char *body, size_t len,
		   bool close)
{
	int err = respond_head(c, status, len, close);

	return err ? err : out_append(c, body, len);
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

/* The output drained: input a backlog held back is parsed next round. */
void conn_sent(struct server *s, struct conn *c)
{
	c->out_len = c->out_sent = 0;
	if (c->stalled && !c->pending && !c->closing) {
		c->pending = true;
		s->pending[s->npending++] = c->fd;
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
