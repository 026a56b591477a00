// SPDX-License-Identifier: MIT
/*
 * The io_uring loop: receives (recvmsg with MSG_PASTE in paste mode), sends
 * and accepts are submitted in batches across connections. A round reaps
 * every completion, then the round's end (round.c); a connection has one
 * send or one receive in flight. When the submission queue is full it is
 * submitted and the entry taken again; what still finds none (the kernel
 * refused the submission) is retried next round, never dropped.
 */
#include <errno.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_SIGNAL, OP_TIMER };

#define TAG(op, fd)	(((uint64_t)(op) << 32) | (uint32_t)(fd))

/* A submission queue entry, submitting the queue when it is full. */
static struct io_uring_sqe *sqe_get(struct server *s)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (!sqe && io_uring_submit(&s->ring) >= 0)
		sqe = io_uring_get_sqe(&s->ring);
	return sqe;
}

/* Submit @op; false when no entry was free (try again next round). */
static bool arm(struct server *s, int op, int fd, void *buf, size_t len)
{
	struct io_uring_sqe *sqe = sqe_get(s);

	if (!sqe) {
		if (op == OP_ACCEPT || op == OP_TIMER)
			s->unarmed |= 1U << op;
		return false;
	}
	if (op == OP_ACCEPT)
		io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
	else if (op == OP_TIMER)
		io_uring_prep_timeout(sqe, &s->tick, 0, 0);
	else if (op == OP_SIGNAL)
		io_uring_prep_read(sqe, fd, buf, len, 0);
	else
		io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, TAG(op, fd));
	return true;
}

static void arm_recv(struct server *s, struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (s->store->rx->prepare(s, c))
		return;
	sqe = sqe_get(s);
	if (!sqe) {
		touch(s, c);
		return;
	}
	s->store->rx->prep_recv(s, c, sqe);
	io_uring_sqe_set_data64(sqe, TAG(OP_RECV, c->fd));
	c->recv_armed = true;
}

static void accept_resume(struct server *s)
{
	arm(s, OP_ACCEPT, s->lsn, NULL, 0);
}

static void received(struct server *s, struct conn *c, int res)
{
	struct paste_ref refs[QMAX];
	unsigned int n = res > 0 ? s->store->rx->received(c, refs) : 0;

	c->recv_armed = false;
	conn_input(s, c, res, refs, n);
}

static void complete(struct server *s, uint64_t tag, int res)
{
	int op = tag >> 32, fd = (int)(uint32_t)tag;
	struct conn *c = fd >= 0 && (unsigned int)fd < s->max_conn ? s->conns[fd] : NULL;

	switch (op) {
	case OP_SIGNAL:
		s->stop = true;
		break;
	case OP_TIMER:
		/* Wakes the loop once a second for housekeeping(). */
		arm(s, OP_TIMER, -1, NULL, 0);
		break;
	case OP_ACCEPT:
		if (res >= 0 && fault_hit(&s->faults, FAULT_ACCEPT)) {
			close(res);
			res = -EMFILE;
		}
		if (res >= 0 && (c = conn_new(s, res)))
			touch(s, c);
		if (res >= 0 || !accept_pause(s, -res))
			arm(s, OP_ACCEPT, s->lsn, NULL, 0);
		break;
	case OP_RECV:
		if (!c)
			break;
		received(s, c, res);
		touch(s, c);
		break;
	case OP_SEND:
		if (!c)
			break;
		c->send_busy = false;
		if (fault_hit(&s->faults, FAULT_SEND))
			res = -ECONNRESET;
		conn_send_done(s, c, res);
		touch(s, c);
		break;
	}
}

static void answer(struct server *s, struct conn *c)
{
	if (c->out_len > c->out_sent && !c->send_busy) {
		if (!arm(s, OP_SEND, c->fd, c->out + c->out_sent,
			 c->out_len - c->out_sent)) {
			touch(s, c);
			return;
		}
		c->send_busy = true;
	}
	if (c->closing && !c->send_busy && !c->recv_armed) {
		conn_close(s, c);
		return;
	}
	if (c->closing && c->recv_armed) {
		shutdown(c->fd, SHUT_RD);
		return;
	}
	if (conn_wants_input(c) && !c->recv_armed && !c->send_busy)
		arm_recv(s, c);
}

static int run(struct server *s)
{
	struct signalfd_siginfo si;
	struct io_uring_cqe *cqe;
	unsigned int head, n;
	int err;

	err = io_uring_queue_init(4096, &s->ring, 0);
	if (err)
		return err;
	arm(s, OP_ACCEPT, s->lsn, NULL, 0);
	arm(s, OP_SIGNAL, s->sigfd, &si, sizeof(si));
	s->tick.tv_sec = 1;
	arm(s, OP_TIMER, -1, NULL, 0);

	while (!s->stop) {
		if (s->unarmed & (1U << OP_ACCEPT) && !s->accept_paused) {
			s->unarmed &= ~(1U << OP_ACCEPT);
			arm(s, OP_ACCEPT, s->lsn, NULL, 0);
		}
		if (s->unarmed & (1U << OP_TIMER)) {
			s->unarmed &= ~(1U << OP_TIMER);
			arm(s, OP_TIMER, -1, NULL, 0);
		}
		/*
		 * Connections left for the next round, or a checkpoint under
		 * way, do not wait. -EBUSY and
		 * -EAGAIN: completions must be reaped first, or the kernel is
		 * short of memory for a moment; neither ends the server.
		 */
		err = io_uring_submit_and_wait(&s->ring,
					       s->ntouched || checkpoint_running(s) ? 0 : 1);
		if (err < 0 && err != -EINTR && err != -EBUSY && err != -EAGAIN)
			return err;
		/* Reap the whole batch of completions first. */
		n = 0;
		io_uring_for_each_cqe(&s->ring, head, cqe) {
			complete(s, cqe->user_data, cqe->res);
			n++;
		}
		io_uring_cq_advance(&s->ring, n);

		err = round_end(s);
		if (err)
			return err;
	}
	io_uring_queue_exit(&s->ring);
	return s->fatal;
}

const struct event_loop uring_loop = {
	.run = run,
	.answer = answer,
	.accept_resume = accept_resume,
};
