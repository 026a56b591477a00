// SPDX-License-Identifier: MIT
/*
 * Requests: a parsed request whose bytes are all here is handled: GET
 * answers from the index, POST stages the value for the round's commit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server.h"

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
