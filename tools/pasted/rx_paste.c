// SPDX-License-Identifier: MIT
/*
 * paste mode's receive side: a connection's queue of references into the
 * region, parsed in place, and what becomes of each buffer once consumed.
 *
 * A consumed buffer with logged bytes stays with its socket ("held"), which
 * keeps the kernel from reusing it, until a checkpoint releases it; at close
 * it is pinned instead, so that it outlives the socket. Buffers without
 * logged bytes are released in batches. No SIOCPASTE is needed per request.
 * libpaste keeps that account (paste_hold_*(), paste_pins_*()).
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "server.h"

static size_t paste_queued(const struct conn *c)
{
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < c->qn; i++)
		n += c->q[i].len;
	return n - c->qoff;
}

/* Whether the queued bytes are only line ends (see http_is_blank()). */
static bool paste_queued_blank(const struct server *s, const struct conn *c)
{
	uint32_t off = c->qoff;
	unsigned int i;

	for (i = 0; i < c->qn; i++, off = 0)
		if (!http_is_blank(s->data.map + c->q[i].offset + off,
				   c->q[i].len - off))
			return false;
	return true;
}

/*
 * Consume @len bytes of the queue, describing them in @at: one piece per
 * reference, at most QMAX. Consumed references go to @done, which must
 * have room for QMAX more (paste_make_room()).
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

/*
 * Gather a head that spans buffers into @c->hdr (at most HTTP_MAX_HEADER
 * bytes); the one copy paste mode makes, and only of heads.
 */
static size_t gather_head(struct server *s, struct conn *c, size_t total)
{
	size_t n = 0, want = total < HTTP_MAX_HEADER ? total : HTTP_MAX_HEADER;
	uint32_t off = c->qoff;
	unsigned int i;

	for (i = 0; i < c->qn && n < want; i++, off = 0) {
		size_t k = c->q[i].len - off;

		if (k > want - n)
			k = want - n;
		memcpy(c->hdr + n, s->data.map + c->q[i].offset + off, k);
		n += k;
	}
	s->st.header_copied += n;
	return n;
}

/* Parse heads in place and handle every complete request queued. */
static void paste_process(struct server *s, struct conn *c)
{
	while (!c->closing && c->qn) {
		const char *head = s->data.map + c->q[0].offset + c->qoff;
		size_t avail = c->q[0].len - c->qoff, total = paste_queued(c);
		struct http_req req;
		struct located at;	/* consume() fills it: no zeroing */
		int ret;

		if (conn_backlogged(c)) {
			c->stalled = true;
			return;
		}
		ret = http_parse(head, avail, &req);
		if (ret == 0 && c->qn > 1) {
			head = c->hdr;
			ret = http_parse(head, gather_head(s, c, total), &req);
		}
		if (ret < 0) {
			bad_request(s, c, -ret);
			break;
		}
		if (!ret)
			break;
		if (total < req.header_len + req.body_len) {
			conn_continue(c, &req);
			break;
		}
		/* The key points into @head, which consume() leaves alone. */
		at.buf = NULL;
		consume(c, req.header_len + req.body_len, req.method == HTTP_POST,
			&at);
		handle_request(s, c, &req, &at, NULL);
	}
	c->stalled = false;
}

/* libpaste's count of released buffers: room came back. */
static int released(struct server *s, int n)
{
	if (n > 0)
		s->released = true;
	return n < 0 ? n : 0;
}

/* A consumed buffer is held (@keep: it has logged bytes) or released. */
static int settle_one(struct server *s, struct conn *c,
		      const struct paste_ref *ref, bool keep)
{
	return released(s, paste_hold_settle(&c->hold, &s->pins, c->fd, ref,
					     keep));
}

/*
 * Settle consumed buffers. At close (@final), the buffers still queued are
 * settled too, the first of which may hold logged bytes followed by the
 * start of a request that never completed, and held buffers are pinned.
 */
static int paste_settle(struct server *s, struct conn *c, bool final)
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
		err = released(s, paste_hold_flush(&c->hold, c->fd));
	if (!err && final)
		err = paste_hold_pin(&c->hold, &s->pins, c->fd);
	if (err)
		c->unsettled = true;
	return err;
}

/*
 * A full queue and still no complete request: the client cut it into more
 * segments than a queue (and a WAL record) has references. Each buffer is
 * a whole slot of which the kernel filled a part, and the slot's free tail
 * is ours while we hold it: move the queued bytes forward into those
 * tails, as a compacting collector would, and give back the buffers that
 * end up empty. Legal requests then take at most one reference per slot,
 * plus one, whatever their segmentation. When the payload is otherwise
 * durable already (kernel flush), the moved bytes are written back and
 * fenced here: that commit has no payload fence to order them before the
 * log entry. Returns the number of queue entries freed.
 */
static unsigned int paste_compact(struct server *s, struct conn *c)
{
	unsigned int i, n = 1, freed = 0;
	bool moved = false;

	for (i = 1; i < c->qn; i++) {
		struct paste_ref *dst = &c->q[n - 1], cur = c->q[i];
		uint64_t end = ((uint64_t)dst->token + 1) * s->slot_size;
		uint64_t tail = dst->offset + dst->len;
		uint32_t k = end - tail < cur.len ? end - tail : cur.len;

		if (k) {
			memcpy(s->data.map + tail, s->data.map + cur.offset, k);
			if (s->opt.kernel_flush)
				paste_flush(s->data.map + tail, k);
			moved = true;
			dst->len += k;
			cur.offset += k;
			cur.len -= k;
			s->st.payload_copied += k;
		}
		if (cur.len) {
			c->keep[n] = c->keep[i];
			c->q[n++] = cur;
		} else if (settle_one(s, c, &c->q[i], false)) {
			c->closing = true;
		} else {
			freed++;
		}
	}
	for (i = n; i < c->qn; i++)
		c->keep[i] = false;
	c->qn = n;
	/*
	 * With --kernel-flush the commit writes entries without a payload
	 * fence (PASTE_WAL_PAYLOAD_DURABLE): the moved bytes get theirs here.
	 */
	if (s->opt.kernel_flush && moved)
		paste_fence();
	return freed;
}

/* Before parsing up to QMAX more references: room for them in @done. */
static int paste_make_room(struct server *s, struct conn *c)
{
	if (c->ndone <= ARRAY_SIZE(c->done) - QMAX)
		return 0;
	return paste_settle(s, c, false);
}

/*
 * At a checkpoint, once the snapshot holds every value: release pinned and
 * held buffers. Buffers consumed in this round are not settled yet and keep
 * their mark: a record staged after this checkpoint may reference them.
 */
int paste_release_all(struct server *s)
{
	unsigned int i;
	int err = released(s, paste_pins_release(&s->pins, s->lsn));

	for (i = 0; i < s->max_conn && !err; i++)
		if (s->conns[i])
			err = released(s, paste_hold_release(&s->conns[i]->hold,
							     &s->pins,
							     s->conns[i]->fd));
	return err;
}

/*
 * The region had no buffer for @c's next bytes (ENOBUFS). A checkpoint
 * frees buffers only when logged ones are held or pinned: ask for one
 * then, and never when it cannot free anything (a storm of empty
 * checkpoints is what a client that sends 1-byte segments would otherwise
 * cause).
 */
static void paste_starved(struct server *s, struct conn *c)
{
	conn_starve(s, c, s->pins.n + s->pins.held);
}

/*
 * Attach the region to the listener (accepted sockets inherit it), telling
 * the kernel which buffers the recovered WAL references, and list those as
 * pinned: the next checkpoint releases them. The records of connections
 * interleave in the log, so one buffer can come up again after others:
 * each is listed once, or the list outgrows the region.
 */
static int range_cmp(const void *a, const void *b)
{
	const struct paste_range *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/*
 * The kernel pins whole slots, and takes at most PASTE_MAX_OWNED ranges:
 * turn the pieces the WAL references (many per slot, interleaved between
 * connections) into sorted runs of whole slots. A checkpoint runs before
 * the log holds that many buffers (region_need_checkpoint()).
 */
static int owned_slot_runs(struct server *s, uint64_t slot_size)
{
	unsigned int i, n = 0;

	qsort(s->owned, s->nowned, sizeof(*s->owned), range_cmp);
	for (i = 0; i < s->nowned; i++) {
		uint64_t start = s->owned[i].offset / slot_size * slot_size;
		uint64_t end = (s->owned[i].offset + s->owned[i].length +
				slot_size - 1) / slot_size * slot_size;
		struct paste_range *last = n ? &s->owned[n - 1] : NULL;

		if (last && start <= last->offset + last->length) {
			if (end > last->offset + last->length)
				last->length = end - last->offset;
			continue;
		}
		s->owned[n].offset = start;
		s->owned[n++].length = end - start;
	}
	s->nowned = n;
	if (n > PASTE_MAX_OWNED) {
		fprintf(stderr, "pasted: the log references %u separate runs of buffers, more than the kernel takes (%u)\n",
			n, PASTE_MAX_OWNED);
		return -E2BIG;
	}
	return 0;
}

static int paste_attach(struct server *s)
{
	struct paste_sock_info info;
	socklen_t len = sizeof(info);
	unsigned int i;
	bool *seen;
	int err;

	err = owned_slot_runs(s, s->opt.slot_size ? s->opt.slot_size :
			      (uint64_t)sysconf(_SC_PAGESIZE));
	if (err)
		return err;
	err = paste_region_attach(&s->data, s->lsn,
				  (s->data.sync ? 0 : PASTE_REGION_VOLATILE) |
				  (s->opt.kernel_flush ? PASTE_REGION_DURABLE : 0),
				  s->opt.slot_size, s->owned, s->nowned);
	if (err == -ENOPROTOOPT)
		fprintf(stderr, "pasted: this kernel has no PASTE (SO_PASTE_REGION)\n");
	if (err)
		return err;
	if (s->opt.rx_ifname) {
		struct paste_rxq_bind b = {
			.ifindex = if_nametoindex(s->opt.rx_ifname),
		};

		if (!b.ifindex) {
			fprintf(stderr, "pasted: no network device %s\n",
				s->opt.rx_ifname);
			return -ENODEV;
		}
		if (ioctl(s->lsn, SIOCPASTEBIND, &b)) {
			fprintf(stderr, "pasted: bind rx queue of %s (SIOCPASTEBIND) failed\n",
				s->opt.rx_ifname);
			return -errno;
		}
	}
	if (getsockopt(s->lsn, SOL_SOCKET, SO_PASTE_REGION, &info, &len))
		return -errno;
	s->nr_slots = info.nr_slots;
	s->slot_size = info.slot_size;
	seen = calloc(s->nr_slots, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	for (i = 0; i < s->nowned && !err; i++) {
		uint64_t first = s->owned[i].offset / info.slot_size;
		uint64_t last = (s->owned[i].offset + s->owned[i].length - 1) /
				info.slot_size;

		for (; first <= last && first < s->nr_slots && !err; first++) {
			if (seen[first])
				continue;
			seen[first] = true;
			err = paste_pins_add(&s->pins, first);
		}
	}
	free(seen);
	return err;
}

/* ------------------------------------------------------------ the ops */

/*
 * Before a receive: room to consume into, and a queue entry for the next
 * reference; a full queue without a complete request that compaction
 * cannot shrink is a head or body too fragmented (431).
 */
static int paste_prepare(struct server *s, struct conn *c)
{
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

static ssize_t paste_rx_recv(struct server *s, struct conn *c,
			     struct paste_ref *refs, unsigned int *nrefs)
{
	(void)s;
	return paste_recv(c->fd, refs, QMAX - c->qn, nrefs, MSG_DONTWAIT);
}

static void paste_prep_recv(struct server *s, struct conn *c,
			    struct io_uring_sqe *sqe)
{
	(void)s;
	memset(&c->msg, 0, sizeof(c->msg));
	c->iov.iov_base = NULL;
	c->iov.iov_len = 1 << 30;
	c->msg.msg_iov = &c->iov;
	c->msg.msg_iovlen = 1;
	c->msg.msg_control = c->ctrl;
	c->msg.msg_controllen = CMSG_SPACE(sizeof(struct paste_ref)) *
				(QMAX - c->qn);
	io_uring_prep_recvmsg(sqe, c->fd, &c->msg, MSG_PASTE);
}

static unsigned int paste_received(struct conn *c, struct paste_ref *refs)
{
	struct cmsghdr *cm;
	unsigned int n = 0;

	for (cm = CMSG_FIRSTHDR(&c->msg); cm; cm = CMSG_NXTHDR(&c->msg, cm))
		memcpy(&refs[n++], CMSG_DATA(cm), sizeof(refs[0]));
	return n;
}

static void paste_input(struct server *s, struct conn *c, size_t got,
			const struct paste_ref *refs, unsigned int nrefs)
{
	unsigned int i;

	(void)s;
	(void)got;
	for (i = 0; i < nrefs; i++)
		c->q[c->qn++] = refs[i];
}

static void paste_rx_process(struct server *s, struct conn *c)
{
	if (paste_make_room(s, c))
		c->closing = true;
	else
		paste_process(s, c);
}

static bool paste_partial(const struct server *s, const struct conn *c)
{
	return c->qn && !paste_queued_blank(s, c);
}

static int paste_rx_settle(struct server *s, struct conn *c)
{
	return paste_settle(s, c, false);
}

/* A failure keeps the holder: the connection waits for a checkpoint. */
static int paste_conn_exit(struct server *s, struct conn *c)
{
	int err = paste_settle(s, c, true);

	if (!err)
		paste_holder_free(&c->hold);
	return err;
}

const struct rx_ops rx_paste = {
	.data_file = "region",
	.conn_exit = paste_conn_exit,
	.prepare = paste_prepare,
	.recv = paste_rx_recv,
	.prep_recv = paste_prep_recv,
	.received = paste_received,
	.input = paste_input,
	.process = paste_rx_process,
	.partial = paste_partial,
	.settle = paste_rx_settle,
	.starved = paste_starved,
	.attach = paste_attach,
};
