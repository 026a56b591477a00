// SPDX-License-Identifier: MIT
/*
 * The epoll loop: wait, receive from every ready connection, then the
 * round's end (round.c); answers are sent at once, and what does not fit
 * waits for EPOLLOUT.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"

#define ROUNDS	8	/* receives per ready connection and round */

static void conn_read(struct server *s, struct conn *c)
{
	struct paste_ref refs[QMAX];
	unsigned int n;
	ssize_t got;
	int rounds;

	for (rounds = 0; rounds < ROUNDS && conn_wants_input(c); rounds++) {
		if (s->store->rx->prepare(s, c))
			break;
		got = s->store->rx->recv(s, c, refs, &n);
		conn_input(s, c, got, refs, n);
		if (got < 0)
			break;
	}
	touch(s, c);
}

static void conn_event(struct server *s, struct conn *c, uint32_t events)
{
	if (!conn_wants_input(c) && (events & (EPOLLERR | EPOLLHUP))) {
		/* Gone while its input was not wanted (stalled, starved). */
		c->closing = true;
		touch(s, c);
		return;
	}
	conn_read(s, c);
}

static void accept_all(struct server *s)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct conn *c;
	int fd;

	while ((fd = accept4(s->lsn, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		int err = fault_hit(&s->faults, FAULT_ACCEPT);

		if (err) {
			close(fd);
			errno = err;
			break;
		}
		c = conn_new(s, fd);
		if (!c)
			continue;
		ev.data.fd = fd;
		epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
	}
	if (accept_pause(s, errno))
		epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lsn, NULL);
}

static void accept_resume(struct server *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = s->lsn };

	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lsn, &ev);
}

/*
 * Send, then wait for what the connection needs next: to send the rest
 * (EPOLLOUT: a blocked connection costs nothing until it can take more),
 * to receive, or (stalled, starved) nothing.
 */
static void answer(struct server *s, struct conn *c)
{
	struct epoll_event ev = { .data.fd = c->fd };
	int err = conn_send(s, c);

	if (err == -EAGAIN) {
		ev.events = EPOLLOUT;
		epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	if (err || c->closing) {
		/* Kept for a checkpoint: no event of its wants handling. */
		if (!conn_close(s, c))
			epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
		return;
	}
	ev.events = conn_wants_input(c) ? EPOLLIN | EPOLLRDHUP : 0;
	epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int run(struct server *s)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	int i, n, err;

	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0)
		return -errno;
	ev.data.fd = s->lsn;
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lsn, &ev);
	ev.data.fd = s->sigfd;
	epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sigfd, &ev);

	while (!s->stop) {
		n = epoll_wait(s->ep, evs, ARRAY_SIZE(evs),
			       s->npending || s->ntouched ||
			       checkpoint_running(s) ? 0 : 1000);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			struct conn *c;

			if (fd == s->sigfd)
				s->stop = true;
			else if (fd == s->lsn)
				accept_all(s);
			else if ((c = s->conns[fd]))
				conn_event(s, c, evs[i].events);
		}
		err = round_end(s);
		if (err)
			return err;
	}
	close(s->ep);
	return s->fatal;
}

const struct event_loop epoll_loop = {
	.run = run,
	.answer = answer,
	.accept_resume = accept_resume,
};
