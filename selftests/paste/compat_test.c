// SPDX-License-Identifier: GPL-2.0
/*
 * The PASTE calls from a 32-bit process (built with -m32, run under
 * IA32_EMULATION): attach, recvmsg(MSG_PASTE) with compat control
 * messages, and both ioctls, which the compat path must pass through
 * rather than fail with ENOTTY.
 */
#include "kselftest_harness.h"
#include "paste_sock.h"

#define REGION_LEN	(64 << 10)

_Static_assert(sizeof(void *) == 4, "compat_test is built with -m32");

FIXTURE(compat) {
	struct region r;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int lsn, cli, srv;
};

FIXTURE_SETUP(compat)
{
	ASSERT_EQ(0, region_open(&self->r, "compat", REGION_LEN, false));
	self->lsn = tcp_listener(AF_INET, &self->ss, &self->sslen);
	ASSERT_LE(0, self->lsn);
	ASSERT_EQ(0, region_attach(self->lsn, &self->r, 0));
	ASSERT_EQ(0, tcp_pair(self->lsn, &self->ss, self->sslen, &self->cli,
			      &self->srv));
}

FIXTURE_TEARDOWN(compat)
{
	close(self->cli);
	close(self->srv);
	close(self->lsn);
	region_close(&self->r);
}

TEST_F(compat, receive_flush_and_release)
{
	struct paste_sock_info info;
	struct paste_ref refs[8];
	unsigned int n, i;
	char msg[] = "thirty-two bits";

	ASSERT_EQ(0, send_all(self->cli, msg, sizeof(msg)));
	ASSERT_EQ((int)sizeof(msg), wait_inq(self->srv, sizeof(msg)));
	ASSERT_EQ((ssize_t)sizeof(msg), paste_recv(self->srv, refs, 8, &n, 0));
	ASSERT_EQ(1, n);
	EXPECT_EQ(sizeof(msg), refs[0].len);
	EXPECT_EQ(0, memcmp(self->r.map + refs[0].offset, msg, sizeof(msg)));
	EXPECT_EQ(1, paste_ioc(self->srv, PASTE_IOC_FLUSH, refs, n))
		TH_LOG("SIOCPASTE: %s", strerror(errno));
	EXPECT_EQ(1, paste_ioc(self->srv, PASTE_IOC_RELEASE, refs, n));
	ASSERT_EQ(0, paste_info(self->srv, &info));
	EXPECT_EQ(0, info.refs_outstanding);
	EXPECT_EQ(REGION_LEN / 4096, info.slots_free);
	/* A second release is refused for what it is, not as unknown. */
	EXPECT_EQ(-1, paste_ioc(self->srv, PASTE_IOC_RELEASE, refs, n));
	EXPECT_EQ(EALREADY, errno);
	for (i = 0; i < n; i++)
		EXPECT_GT(REGION_LEN, refs[i].offset);
}

/* A packed reference grows where it lies in a compat control message. */
TEST_F(compat, small_segments_share_a_buffer)
{
	struct paste_ref refs[8];
	unsigned int n;

	ASSERT_EQ(0, send_segments(self->cli, 41, 50, 1));
	ASSERT_EQ(50, wait_inq_for(self->srv, 50, 30));
	ASSERT_EQ(50, paste_recv(self->srv, refs, 8, &n, 0));
	ASSERT_EQ(1, n);
	EXPECT_EQ(50, refs[0].len);
	EXPECT_EQ(refs[0].offset / 4096, refs[0].token);
	EXPECT_TRUE(ref_matches(self->r.map, &refs[0], 41, 0));
}

/* Room for exactly one reference, as a 32-bit CMSG_SPACE() counts it. */
TEST_F(compat, one_reference_of_room_is_enough)
{
	struct paste_ref ref;
	unsigned int n;

	ASSERT_EQ(0, send_all(self->cli, "one", 3));
	ASSERT_EQ(3, wait_inq(self->srv, 3));
	EXPECT_EQ(3, paste_recv(self->srv, &ref, 1, &n, 0))
		TH_LOG("recvmsg: %s", strerror(errno));
	EXPECT_EQ(1, n);
}

/* Every reference the control buffer has room for is given. */
TEST_F(compat, last_reference_of_the_room_is_given)
{
	static char data[2 * 4096 + 100];
	struct paste_ref refs[3];
	unsigned int n;

	memset(data, 'c', sizeof(data));
	ASSERT_EQ(0, send_all(self->cli, data, sizeof(data)));
	ASSERT_EQ((int)sizeof(data), wait_inq(self->srv, sizeof(data)));
	EXPECT_EQ((ssize_t)sizeof(data), paste_recv(self->srv, refs, 3, &n, 0));
	EXPECT_EQ(3, n);
}

TEST_F(compat, bind_reaches_paste)
{
	struct paste_rxq_bind bind = { .ifindex = 0x7fffffff };

	/* No such device: PASTE's answer, where the compat path said ENOTTY. */
	EXPECT_EQ(-1, ioctl(self->lsn, SIOCPASTEBIND, &bind));
	EXPECT_EQ(ENODEV, errno);
}

TEST_HARNESS_MAIN
