// SPDX-License-Identifier: MIT
/*
 * Connections: their lifetime, what a receive brought (handed to the
 * receive strategy, rx_*.c), and the rules that keep one client from
 * taking more than its share (timeouts, descriptors).
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

/* Parse and handle what is queued; note when a request is left partial. */
void conn_process(struct server *s, struct conn *c)
{
	s->store->rx->process(s, c);
	if (c->stalled)
		return;
	/*
	 * Bytes left over are the start of a request still arriving, unless
	 * they are empty lines (a CRLF some clients send after a body).
	 */
	if (!s->store->rx->partial(s, c))
		c->partial_ms = 0;
	else if (!c->partial_ms)
		c->partial_ms = now_ms();
}

/*
 * What a receive brought (@got bytes, as @nrefs references in paste mode),
 * or its error: queue and process it.
 */
void conn_input(struct server *s, struct conn *c, ssize_t got,
		const struct paste_ref *refs, unsigned int nrefs)
{
	if (got == -EAGAIN || got == -EINTR)
		return;
	if (got == -ENOBUFS && s->store->rx->starved) {
		s->store->rx->starved(s, c);
		return;
	}
	if (got <= 0) {
		c->closing = true;
		return;
	}
	c->active_ms = now_ms();
	s->store->rx->input(s, c, got, refs, nrefs);
	conn_process(s, c);
}

/*
 * @c has no room to receive into (region buffers, log area): it receives
 * nothing until room comes back. @checkpoint_frees: a checkpoint would
 * free some; the round ends by beginning one.
 */
void conn_starve(struct server *s, struct conn *c, bool checkpoint_frees)
{
	s->st.starved++;
	c->starved = true;
	if (checkpoint_frees)
		s->checkpoint_wanted = true;
}

/*
 * Once room came back, or every second (@tick): starved connections try
 * again, and those that waited for a checkpoint to close close.
 */
static void retry_waiting(struct server *s, bool tick)
{
	unsigned int fd;

	if (!s->released && !tick)
		return;
	s->released = false;
	for (fd = 0; fd < s->max_conn; fd++) {
		struct conn *c = s->conns[fd];

		if (c && c->starved) {
			c->starved = false;
			touch(s, c);
		}
		if (c && c->unsettled && s->st.checkpoints >= c->close_after) {
			c->unsettled = false;
			touch(s, c);
		}
	}
}

/*
 * Should the loop receive more for @c? Not while its answers back up, nor
 * while the region has no buffer for it.
 */
bool conn_wants_input(const struct conn *c)
{
	return !c->closing && !c->stalled && !c->starved && !conn_backlogged(c);
}

void touch(struct server *s, struct conn *c)
{
	if (!c->touched) {
		c->touched = true;
		s->touched[s->ntouched++] = c;
	}
}

/* After the group commit: settle what was consumed; a failure closes. */
void conn_settle(struct server *s, struct conn *c)
{
	if (s->store->rx->settle && s->store->rx->settle(s, c))
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
 * The loop spent @ms checkpointing: what clients sent meanwhile waited in
 * their sockets, and a request may be incomplete only because it was not
 * read. Move the request and idle timers on by that time, not past @now.
 */
static void timers_defer(struct server *s, uint64_t now, uint64_t ms)
{
	unsigned int fd;

	for (fd = 0; fd < s->max_conn; fd++) {
		struct conn *c = s->conns[fd];

		if (!c)
			continue;
		if (c->partial_ms)
			c->partial_ms = c->partial_ms + ms < now ?
					c->partial_ms + ms : now;
		c->active_ms = c->active_ms + ms < now ? c->active_ms + ms : now;
	}
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
 * that has drained, retry connections that waited for room or a
 * checkpoint, and once a second (@tick) look for timed-out ones.
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
	retry_waiting(s, tick);
	if (s->paused_ms) {
		timers_defer(s, now, s->paused_ms);
		s->paused_ms = 0;
	}
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
	if (s->store->rx->conn_init && s->store->rx->conn_init(s, c)) {
		free(c);
		close(fd);
		return NULL;
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

/*
 * Close @c, or (false) keep its socket until a checkpoint: logged buffers
 * that could not be pinned, or were lost track of, would go back to the
 * kernel with it while the log references them. retry_waiting() brings it
 * back here once a checkpoint holds their values.
 */
bool conn_close(struct server *s, struct conn *c)
{
	int err = 0;

	if (c->close_after <= s->st.checkpoints && s->store->rx->conn_exit)
		err = s->store->rx->conn_exit(s, c);
	if (c->unsettled) {
		if (c->close_after <= s->st.checkpoints)
			fprintf(stderr, "pasted: settling buffers: %s; closing after a checkpoint\n",
				err ? strerror(-err) : "failed before");
		c->close_after = s->st.checkpoints + 1;
		s->checkpoint_wanted = true;
		return false;
	}
	s->conns[c->fd] = NULL;
	s->nconns--;
	close(c->fd);
	free(c->out);
	free(c->out_sending);
	free(c);
	if (s->accept_paused && !s->stop) {
		s->accept_paused = false;
		s->loop->accept_resume(s);
	}
	return true;
}

