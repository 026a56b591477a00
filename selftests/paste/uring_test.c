// SPDX-License-Identifier: GPL-2.0
/*
 * recvmsg(MSG_PASTE) through io_uring's IORING_OP_RECVMSG (liburing), with
 * no change to io_uring: one connection, a batch across connections, a
 * receive armed before data arrives, and ENOBUFS as a completion.
 */
#include <liburing.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define SLOT		4096
#define NCONN		8

struct uring_rx {
	struct msghdr msg;
	struct iovec iov;
	char ctrl[CMSG_SPACE(sizeof(struct paste_ref)) * 16];
};

static void rx_prep(struct io_uring *ring, struct uring_rx *rx, int fd,
		    unsigned long long tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	memset(rx, 0, sizeof(*rx));
	rx->iov.iov_len = 1 << 20;
	rx->msg.msg_iov = &rx->iov;
	rx->msg.msg_iovlen = 1;
	rx->msg.msg_control = rx->ctrl;
	rx->msg.msg_controllen = sizeof(rx->ctrl);
	io_uring_prep_recvmsg(sqe, fd, &rx->msg, MSG_PASTE);
	io_uring_sqe_set_data64(sqe, tag);
}

static unsigned int rx_refs(struct uring_rx *rx, struct paste_ref *refs)
{
	struct cmsghdr *cm;
	unsigned int n = 0;

	for (cm = CMSG_FIRSTHDR(&rx->msg); cm; cm = CMSG_NXTHDR(&rx->msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_PASTE)
			memcpy(&refs[n++], CMSG_DATA(cm), sizeof(*refs));
	return n;
}

FIXTURE(uring) {
	struct region r;
	struct io_uring ring;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int lsn, cli[NCONN], srv[NCONN];
};

FIXTURE_SETUP(uring)
{
	int i;

	ASSERT_EQ(0, region_open(&self->r, "uring", 16 * SLOT, false));
	ASSERT_EQ(0, io_uring_queue_init(64, &self->ring, 0));
	self->lsn = tcp_listener(AF_INET, &self->ss, &self->sslen);
	ASSERT_LE(0, self->lsn);
	ASSERT_EQ(0, region_attach(self->lsn, &self->r, 0));
	for (i = 0; i < NCONN; i++) {
		ASSERT_EQ(0, tcp_pair(self->lsn, &self->ss, self->sslen,
				      &self->cli[i], &self->srv[i]));
	}
}

FIXTURE_TEARDOWN(uring)
{
	int i;

	for (i = 0; i < NCONN; i++) {
		close(self->cli[i]);
		close(self->srv[i]);
	}
	close(self->lsn);
	io_uring_queue_exit(&self->ring);
	region_close(&self->r);
}

TEST_F(uring, recvmsg_returns_references)
{
	static const char msg[] = "uring payload";
	struct io_uring_cqe *cqe;
	struct uring_rx rx;
	struct paste_ref ref;

	ASSERT_EQ(0, send_all(self->cli[0], msg, sizeof(msg)));
	rx_prep(&self->ring, &rx, self->srv[0], 1);
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
	EXPECT_EQ(sizeof(msg), cqe->res);
	io_uring_cqe_seen(&self->ring, cqe);
	ASSERT_EQ(1, rx_refs(&rx, &ref));
	EXPECT_EQ(sizeof(msg), ref.len);
	EXPECT_EQ(0, memcmp(self->r.map + ref.offset, msg, sizeof(msg)));
}

TEST_F(uring, small_segments_share_a_buffer)
{
	struct io_uring_cqe *cqe;
	struct paste_ref refs[16];
	struct uring_rx rx;

	ASSERT_EQ(0, send_segments(self->cli[0], 51, 100, 1));
	ASSERT_EQ(100, wait_inq_for(self->srv[0], 100, 30));
	rx_prep(&self->ring, &rx, self->srv[0], 1);
	ASSERT_EQ(1, io_uring_submit(&self->ring));
	ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
	EXPECT_EQ(100, cqe->res);
	io_uring_cqe_seen(&self->ring, cqe);
	ASSERT_EQ(1, rx_refs(&rx, refs));
	EXPECT_EQ(100, refs[0].len);
	EXPECT_TRUE(ref_matches(self->r.map, &refs[0], 51, 0));
}

TEST_F(uring, batch_across_connections)
{
	struct uring_rx rx[NCONN];
	struct io_uring_cqe *cqe;
	struct paste_ref refs[16];
	char buf[100];
	int i, seen = 0;

	/* Arm every receive before any data arrives. */
	for (i = 0; i < NCONN; i++)
		rx_prep(&self->ring, &rx[i], self->srv[i], i);
	ASSERT_EQ(NCONN, io_uring_submit(&self->ring));
	for (i = 0; i < NCONN; i++) {
		stream_fill(i + 1, 0, buf, sizeof(buf));
		ASSERT_EQ(0, send_all(self->cli[i], buf, sizeof(buf)));
	}
	while (seen < NCONN) {
		unsigned int n, j;

		ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
		i = io_uring_cqe_get_data64(cqe);
		EXPECT_EQ(sizeof(buf), cqe->res) TH_LOG("conn %d", i);
		io_uring_cqe_seen(&self->ring, cqe);
		n = rx_refs(&rx[i], refs);
		ASSERT_EQ(1, n);
		EXPECT_TRUE(ref_matches(self->r.map, &refs[0], i + 1, 0));
		/* Release in one batch per completion. */
		for (j = 0; j < n; j++)
			EXPECT_EQ(1, paste_ioc(self->srv[i], PASTE_IOC_RELEASE,
					       &refs[j], 1));
		seen++;
	}
}

TEST_F(uring, exhausted_region_completes_with_enobufs)
{
	static char buf[32 * SLOT];
	struct io_uring_cqe *cqe;
	struct uring_rx rx;
	int i;

	ASSERT_EQ(0, send_all(self->cli[0], buf, sizeof(buf)));
	ASSERT_LE(17 * SLOT, wait_inq(self->srv[0], 17 * SLOT));
	/*
	 * 16 slots: the first receive takes them all (a slot holds at most
	 * one skb's worth, so perhaps less than 16 full slots), the second
	 * finds none.
	 */
	for (i = 0; i < 2; i++) {
		rx_prep(&self->ring, &rx, self->srv[0], i);
		ASSERT_EQ(1, io_uring_submit(&self->ring));
		ASSERT_EQ(0, io_uring_wait_cqe(&self->ring, &cqe));
		if (i == 0) {
			EXPECT_LT(15 * SLOT, cqe->res);
			EXPECT_GE(16 * SLOT, cqe->res);
		} else {
			EXPECT_EQ(-ENOBUFS, cqe->res);
		}
		io_uring_cqe_seen(&self->ring, cqe);
	}
}

TEST_HARNESS_MAIN
