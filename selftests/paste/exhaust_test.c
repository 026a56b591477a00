// SPDX-License-Identifier: GPL-2.0
/*
 * Region exhaustion: recvmsg(MSG_PASTE) fails with ENOBUFS once every slot
 * is held, the bytes stay queued, the sender sees TCP backpressure (not a
 * reset), and data flows again, intact, once buffers are released.
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

TEST_HARNESS_MAIN
