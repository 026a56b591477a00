// SPDX-License-Identifier: GPL-2.0
/*
 * Region exhaustion: recvmsg(MSG_PASTE) fails with ENOBUFS once every slot
 * is held, the bytes stay queued, the sender sees TCP backpressure (not a
 * reset), and data flows again, intact, once buffers are released.
 *
 * A socket's limit on buffers held (max_held) stops one connection with
 * EDQUOT before it can take the buffers its neighbours need.
 */
#include <fcntl.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define SLOT		4096
#define NR_SLOTS	16

FIXTURE(exhaust) {
	struct region r;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int lsn, cli, srv;
};

FIXTURE_SETUP(exhaust)
{
	ASSERT_EQ(0, region_open(&self->r, "exhaust", NR_SLOTS * SLOT, false));
	self->lsn = tcp_listener(AF_INET, &self->ss, &self->sslen);
	ASSERT_LE(0, self->lsn);
	ASSERT_EQ(0, region_attach(self->lsn, &self->r, 0));
	ASSERT_EQ(0, tcp_pair(self->lsn, &self->ss, self->sslen,
			      &self->cli, &self->srv));
}

FIXTURE_TEARDOWN(exhaust)
{
	close(self->cli);
	close(self->srv);
	close(self->lsn);
	region_close(&self->r);
}

TEST_F(exhaust, enobufs_backpressure_and_recovery)
{
	static char buf[16384];
	struct paste_ref refs[64], held[NR_SLOTS];
	struct paste_sock_info info;
	uint64_t sent = 0, got = 0;
	unsigned int n, nheld = 0, i;
	int err = 0, tries;
	socklen_t len = sizeof(err);
	ssize_t ret;

	/* Fill the network until the sender would block. */
	ASSERT_EQ(0, fcntl(self->cli, F_SETFL, O_NONBLOCK));
	for (tries = 0; tries < 200; tries++) {
		stream_fill(9, sent, buf, sizeof(buf));
		ret = send(self->cli, buf, sizeof(buf), MSG_NOSIGNAL);
		if (ret < 0) {
			ASSERT_EQ(EAGAIN, errno);
			usleep(20000);
			/* Still blocked after the receiver had time to ack? */
			ret = send(self->cli, buf, 1, MSG_NOSIGNAL);
			if (ret < 0 && errno == EAGAIN)
				break;
			ASSERT_EQ(1, ret);
			sent += 1;
			continue;
		}
		sent += ret;
	}
	ASSERT_GT(sent, (uint64_t)NR_SLOTS * SLOT);

	/* Take every slot without releasing. */
	for (;;) {
		ret = paste_recv(self->srv, refs, 64, &n, MSG_DONTWAIT);
		if (ret < 0)
			break;
		for (i = 0; i < n; i++) {
			ASSERT_TRUE(ref_matches(self->r.map, &refs[i], 9, got));
			got += refs[i].len;
			ASSERT_LT(nheld, NR_SLOTS);
			held[nheld++] = refs[i];
		}
	}
	EXPECT_EQ(ENOBUFS, errno);
	EXPECT_EQ(NR_SLOTS, nheld);
	ASSERT_EQ(0, paste_info(self->srv, &info));
	/*
	 * Counted once per receive that found no free slot: the one that
	 * stopped early, and the one that placed nothing.
	 */
	EXPECT_EQ(2, info.region_full);
	EXPECT_EQ(0, info.slots_free);
	/* The rest is still queued, and the sender is blocked, not reset. */
	EXPECT_LT(0, wait_inq(self->srv, 1));
	EXPECT_EQ(-1, send(self->cli, buf, 1, MSG_NOSIGNAL));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, getsockopt(self->cli, SOL_SOCKET, SO_ERROR, &err, &len));
	EXPECT_EQ(0, err);

	/* Release and drain everything, checking every byte. */
	ASSERT_EQ(nheld, paste_ioc(self->srv, PASTE_IOC_RELEASE, held, nheld));
	ASSERT_EQ(0, fcntl(self->cli, F_SETFL, 0));
	ASSERT_EQ(0, shutdown(self->cli, SHUT_WR));
	for (;;) {
		ret = paste_recv(self->srv, refs, 64, &n, 0);
		ASSERT_LE(0, ret) TH_LOG("recv: %s", strerror(errno));
		if (!ret)
			break;
		for (i = 0; i < n; i++) {
			ASSERT_TRUE(ref_matches(self->r.map, &refs[i], 9, got));
			got += refs[i].len;
		}
		ASSERT_EQ(n, paste_ioc(self->srv, PASTE_IOC_RELEASE, refs, n));
	}
	EXPECT_EQ(sent, got);
}

#define MAX_HELD	4

FIXTURE(held_limit) {
	struct region r;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int lsn, cli[2], srv[2];
};

FIXTURE_SETUP(held_limit)
{
	struct paste_region_req req;
	int i;

	ASSERT_EQ(0, region_open(&self->r, "held", NR_SLOTS * SLOT, false));
	self->lsn = tcp_listener(AF_INET6, &self->ss, &self->sslen);
	ASSERT_LE(0, self->lsn);
	req = region_req(&self->r, 0);
	req.max_held = MAX_HELD;
	ASSERT_EQ(0, region_attach_req(self->lsn, &req));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, tcp_pair(self->lsn, &self->ss, self->sslen,
				      &self->cli[i], &self->srv[i]));
}

FIXTURE_TEARDOWN(held_limit)
{
	int i;

	for (i = 0; i < 2; i++) {
		close(self->cli[i]);
		close(self->srv[i]);
	}
	close(self->lsn);
	region_close(&self->r);
}

/*
 * One connection sends more than its limit; its socket stops at MAX_HELD
 * buffers with EDQUOT (at once, though blocking), the other connection
 * still receives, and releasing resumes the first, every byte intact.
 */
TEST_F(held_limit, one_socket_stops_at_its_limit_not_its_neighbour)
{
	static char buf[(MAX_HELD + 4) * SLOT];
	struct timeval tmo = { .tv_sec = 10 };
	struct paste_ref refs[64], held[MAX_HELD];
	struct paste_sock_info info;
	unsigned int n, nheld = 0, i;
	long long before = proc_paste_counter("PasteHeldFull");
	uint64_t got = 0, off;
	ssize_t ret;

	stream_fill(21, 0, buf, sizeof(buf));
	ASSERT_EQ(0, send_all(self->cli[0], buf, sizeof(buf)));
	ASSERT_EQ(0, shutdown(self->cli[0], SHUT_WR));
	ASSERT_LT(0, wait_inq(self->srv[0], sizeof(buf)));

	for (;;) {
		ret = paste_recv(self->srv[0], refs, 64, &n, MSG_DONTWAIT);
		if (ret < 0)
			break;
		ASSERT_LT(0, ret);
		for (i = 0; i < n; i++) {
			ASSERT_TRUE(ref_matches(self->r.map, &refs[i], 21, got));
			got += refs[i].len;
			ASSERT_LT(nheld, MAX_HELD);
			held[nheld++] = refs[i];
		}
	}
	EXPECT_EQ(EDQUOT, errno);
	EXPECT_EQ(MAX_HELD, nheld);

	/* Blocking: refused at once, not after SO_RCVTIMEO. */
	ASSERT_EQ(0, setsockopt(self->srv[0], SOL_SOCKET, SO_RCVTIMEO,
				&tmo, sizeof(tmo)));
	EXPECT_EQ(-1, paste_recv(self->srv[0], refs, 64, &n, 0));
	EXPECT_EQ(EDQUOT, errno);

	ASSERT_EQ(0, paste_info(self->srv[0], &info));
	EXPECT_EQ(MAX_HELD, info.max_held);
	EXPECT_EQ(MAX_HELD, info.refs_outstanding);
	EXPECT_EQ(NR_SLOTS - MAX_HELD, info.slots_free);
	/*
	 * Counted as region_full is: the receive that stopped early, and the
	 * two that placed nothing. None found the region full.
	 */
	EXPECT_EQ(3, info.held_full);
	EXPECT_EQ(0, info.region_full);
	EXPECT_EQ(before + 3, proc_paste_counter("PasteHeldFull"));

	/* The neighbour, accepted on the same listener, still receives. */
	stream_fill(22, 0, buf, SLOT);
	ASSERT_EQ(0, send_all(self->cli[1], buf, SLOT));
	ASSERT_LT(0, wait_inq(self->srv[1], SLOT));
	ret = paste_recv(self->srv[1], refs, 64, &n, MSG_DONTWAIT);
	ASSERT_EQ(SLOT, ret) TH_LOG("neighbour: %s", strerror(errno));
	for (i = 0, off = 0; i < n; off += refs[i++].len)
		EXPECT_TRUE(ref_matches(self->r.map, &refs[i], 22, off));

	/* Release, and the first connection's bytes follow in order. */
	ASSERT_EQ(nheld, paste_ioc(self->srv[0], PASTE_IOC_RELEASE, held, nheld));
	for (;;) {
		ret = paste_recv(self->srv[0], refs, MAX_HELD, &n, 0);
		ASSERT_LE(0, ret) TH_LOG("recv: %s", strerror(errno));
		if (!ret)
			break;
		for (i = 0; i < n; i++) {
			ASSERT_TRUE(ref_matches(self->r.map, &refs[i], 21, got));
			got += refs[i].len;
		}
		ASSERT_EQ(n, paste_ioc(self->srv[0], PASTE_IOC_RELEASE, refs, n));
	}
	EXPECT_EQ(sizeof(buf), got);
}

TEST_HARNESS_MAIN
