// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl(SIOCPASTE): PIN, FLUSH and RELEASE in batches, partial batches, and
 * the errors for double release, foreign tokens and ranges outside the
 * region. A failed call changes nothing.
 */
#include "kselftest_harness.h"
#include "paste_sock.h"

#define REGION_LEN	(1 << 20)
#define SLOT		4096

FIXTURE(ioc) {
	struct region r;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int lsn, cli, srv, cli2, srv2;
	struct paste_ref refs[4];
	unsigned int n;
};

FIXTURE_SETUP(ioc)
{
	static char buf[4 * SLOT];

	ASSERT_EQ(0, region_open(&self->r, "ioctl", REGION_LEN, false));
	self->lsn = tcp_listener(AF_INET, &self->ss, &self->sslen);
	ASSERT_LE(0, self->lsn);
	ASSERT_EQ(0, region_attach(self->lsn, &self->r, 0));
	ASSERT_EQ(0, tcp_pair(self->lsn, &self->ss, self->sslen,
			      &self->cli, &self->srv));
	ASSERT_EQ(0, tcp_pair(self->lsn, &self->ss, self->sslen,
			      &self->cli2, &self->srv2));
	/* Four full slots held by srv. */
	stream_fill(3, 0, buf, sizeof(buf));
	ASSERT_EQ(0, send_all(self->cli, buf, sizeof(buf)));
	ASSERT_EQ(sizeof(buf), wait_inq(self->srv, sizeof(buf)));
	ASSERT_EQ(sizeof(buf), paste_recv(self->srv, self->refs, 4, &self->n, 0));
	ASSERT_EQ(4, self->n);
}

FIXTURE_TEARDOWN(ioc)
{
	close(self->cli);
	close(self->srv);
	close(self->cli2);
	close(self->srv2);
	close(self->lsn);
	region_close(&self->r);
}

static struct paste_sock_info info_of(int fd)
{
	struct paste_sock_info info = {};

	paste_info(fd, &info);
	return info;
}

/* Socket teardown is asynchronous (FIN handshake): wait for it. */
static struct paste_sock_info wait_slots_free(int fd, unsigned int want)
{
	struct paste_sock_info info = info_of(fd);
	int i;

	for (i = 0; i < 200 && info.slots_free != want; i++) {
		usleep(10000);
		info = info_of(fd);
	}
	return info;
}

TEST_F(ioc, release_batch_frees_slots)
{
	struct paste_sock_info before = info_of(self->srv), after;

	EXPECT_EQ(4, before.refs_outstanding);
	ASSERT_EQ(4, paste_ioc(self->srv, PASTE_IOC_RELEASE, self->refs, 4));
	after = info_of(self->srv);
	EXPECT_EQ(0, after.refs_outstanding);
	EXPECT_EQ(before.slots_free + 4, after.slots_free);
}

TEST_F(ioc, double_release_is_ealready)
{
	ASSERT_EQ(1, paste_ioc(self->srv, PASTE_IOC_RELEASE, self->refs, 1));
	EXPECT_EQ(-1, paste_ioc(self->srv, PASTE_IOC_RELEASE, self->refs, 1));
	EXPECT_EQ(EALREADY, errno);
}

TEST_F(ioc, foreign_token_is_enoent)
{
	struct paste_sock_info before = info_of(self->srv);

	/* srv2 shares the region but does not hold srv's buffers. */
	EXPECT_EQ(-1, paste_ioc(self->srv2, PASTE_IOC_RELEASE, self->refs, 1));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, paste_ioc(self->srv2, PASTE_IOC_PIN, self->refs, 1));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(before.refs_outstanding, info_of(self->srv).refs_outstanding);
	EXPECT_EQ(before.slots_free, info_of(self->srv).slots_free);
}

TEST_F(ioc, token_outside_region_is_erange)
{
	struct paste_ref bad = { .token = REGION_LEN / SLOT };

	EXPECT_EQ(-1, paste_ioc(self->srv, PASTE_IOC_RELEASE, &bad, 1));
	EXPECT_EQ(ERANGE, errno);
	EXPECT_EQ(-1, paste_ioc(self->srv, PASTE_IOC_PIN, &bad, 1));
	EXPECT_EQ(ERANGE, errno);
}

TEST_F(ioc, flush_outside_region_is_erange)
{
	struct paste_ref bad[] = {
		{ .offset = REGION_LEN, .len = 1 },
		{ .offset = REGION_LEN - 10, .len = 11 },
		{ .offset = 0, .len = 0 },
		{ .offset = UINT64_MAX - 4, .len = 100 },
	};
	unsigned int i;

	for (i = 0; i < 4; i++) {
		EXPECT_EQ(-1, paste_ioc(self->srv, PASTE_IOC_FLUSH, &bad[i], 1));
		EXPECT_EQ(ERANGE, errno) TH_LOG("entry %u", i);
	}
}

TEST_F(ioc, flush_counts_ranges)
{
	struct paste_ref whole = { .offset = 0, .len = REGION_LEN };

	ASSERT_EQ(4, paste_ioc(self->srv, PASTE_IOC_FLUSH, self->refs, 4));
	ASSERT_EQ(1, paste_ioc(self->srv, PASTE_IOC_FLUSH, &whole, 1));
	EXPECT_EQ(5, info_of(self->srv).flushes);
}

TEST_F(ioc, partial_batch_returns_count)
{
	struct paste_ref batch[3] = { self->refs[0], self->refs[1], self->refs[1] };

	/* The third entry repeats the second: two are processed. */
	EXPECT_EQ(2, paste_ioc(self->srv, PASTE_IOC_RELEASE, batch, 3));
	EXPECT_EQ(2, info_of(self->srv).refs_outstanding);
}

TEST_F(ioc, pin_then_release_from_other_socket)
{
	struct paste_sock_info info;

	ASSERT_EQ(2, paste_ioc(self->srv, PASTE_IOC_PIN, self->refs, 2));
	info = info_of(self->srv);
	EXPECT_EQ(2, info.refs_outstanding);
	EXPECT_EQ(2, info.slots_pinned);
	/* Pinned twice is an error. */
	EXPECT_EQ(-1, paste_ioc(self->srv, PASTE_IOC_PIN, self->refs, 1));
	EXPECT_EQ(EALREADY, errno);
	/* Pinned buffers outlive their socket... */
	close(self->srv);
	self->srv = -1;
	info = wait_slots_free(self->srv2, REGION_LEN / SLOT - 2);
	EXPECT_EQ(2, info.slots_pinned);
	EXPECT_EQ(info.nr_slots - 2, info.slots_free);
	/* ...and any socket of the region can release them. */
	ASSERT_EQ(2, paste_ioc(self->srv2, PASTE_IOC_RELEASE, self->refs, 2));
	info = info_of(self->srv2);
	EXPECT_EQ(0, info.slots_pinned);
	EXPECT_EQ(info.nr_slots, info.slots_free);
}

TEST_F(ioc, bad_arguments_are_einval)
{
	struct paste_ioc ioc = { .op = PASTE_IOC_RELEASE, .count = 1,
				 .refs = (uintptr_t)self->refs };

	ioc.reserved = 1;
	EXPECT_EQ(-1, ioctl(self->srv, SIOCPASTE, &ioc));
	EXPECT_EQ(EINVAL, errno);
	ioc.reserved = 0;
	ioc.op = 0;
	EXPECT_EQ(-1, ioctl(self->srv, SIOCPASTE, &ioc));
	EXPECT_EQ(EINVAL, errno);
	ioc.op = 4;
	EXPECT_EQ(-1, ioctl(self->srv, SIOCPASTE, &ioc));
	EXPECT_EQ(EINVAL, errno);
	ioc.op = PASTE_IOC_RELEASE;
	ioc.count = 0;
	EXPECT_EQ(-1, ioctl(self->srv, SIOCPASTE, &ioc));
	EXPECT_EQ(EINVAL, errno);
	ioc.count = PASTE_IOC_MAX_BATCH + 1;
	EXPECT_EQ(-1, ioctl(self->srv, SIOCPASTE, &ioc));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(4, info_of(self->srv).refs_outstanding);
}

TEST_F(ioc, bad_pointers_are_efault)
{
	struct paste_ioc ioc = { .op = PASTE_IOC_RELEASE, .count = 4,
				 .refs = 8 };

	EXPECT_EQ(-1, ioctl(self->srv, SIOCPASTE, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->srv, SIOCPASTE, &ioc));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(4, info_of(self->srv).refs_outstanding);
}

TEST_F(ioc, socket_without_region_is_einval)
{
	EXPECT_EQ(-1, paste_ioc(self->cli, PASTE_IOC_RELEASE, self->refs, 1));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(ioc, non_tcp_socket_is_eopnotsupp)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0);

	ASSERT_LE(0, u);
	EXPECT_EQ(-1, paste_ioc(u, PASTE_IOC_RELEASE, self->refs, 1));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(u);
}

TEST_F(ioc, close_returns_unpinned_buffers)
{
	struct paste_sock_info info;

	ASSERT_EQ(1, paste_ioc(self->srv, PASTE_IOC_PIN, self->refs, 1));
	close(self->srv);
	self->srv = -1;
	info = wait_slots_free(self->srv2, REGION_LEN / SLOT - 1);
	/* Three returned at close; the pinned one stays. */
	EXPECT_EQ(1, info.slots_pinned);
	EXPECT_EQ(info.nr_slots - 1, info.slots_free);
}

TEST_HARNESS_MAIN
