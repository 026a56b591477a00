// SPDX-License-Identifier: GPL-2.0
/*
 * recvmsg(MSG_PASTE) over IPv4 and IPv6: inheritance by accepted sockets,
 * references in TCP byte order, early stops, blocking, non-blocking and
 * epoll, EOF, durable placement, and the errors of the call.
 */
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define REGION_LEN	(4 << 20)
#define SLOT		4096

FIXTURE(recv) {
	struct region r;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int lsn, cli, srv;
};

FIXTURE_VARIANT(recv) {
	int family;
	bool volatile_shm;
	unsigned int flags;
};

FIXTURE_VARIANT_ADD(recv, ipv4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(recv, ipv6) {
	.family = AF_INET6,
};

FIXTURE_VARIANT_ADD(recv, ipv4_durable) {
	.family = AF_INET,
	.flags = PASTE_REGION_DURABLE,
};

FIXTURE_VARIANT_ADD(recv, ipv6_volatile_shm) {
	.family = AF_INET6,
	.volatile_shm = true,
	.flags = PASTE_REGION_VOLATILE,
};

FIXTURE_SETUP(recv)
{
	ASSERT_EQ(0, region_open(&self->r, "recv", REGION_LEN,
				 variant->volatile_shm));
	self->lsn = tcp_listener(variant->family, &self->ss, &self->sslen);
	ASSERT_LE(0, self->lsn);
	ASSERT_EQ(0, region_attach(self->lsn, &self->r, variant->flags));
	ASSERT_EQ(0, tcp_pair(self->lsn, &self->ss, self->sslen,
			      &self->cli, &self->srv));
}

FIXTURE_TEARDOWN(recv)
{
	close(self->cli);
	close(self->srv);
	close(self->lsn);
	region_close(&self->r);
}

TEST_F(recv, accepted_socket_inherits_region)
{
	struct paste_sock_info info;

	ASSERT_EQ(0, paste_info(self->srv, &info));
	EXPECT_EQ(REGION_LEN, info.region_length);
	EXPECT_EQ(variant->flags, info.flags);
	/* The client side has no region. */
	EXPECT_EQ(-1, paste_info(self->cli, &info));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(recv, one_message_one_reference)
{
	static const char msg[] = "POST /k HTTP/1.1\r\n\r\n";
	struct paste_sock_info info;
	struct paste_ref ref;
	unsigned int n;

	ASSERT_EQ(0, send_all(self->cli, msg, sizeof(msg)));
	ASSERT_EQ(sizeof(msg), paste_recv(self->srv, &ref, 1, &n, 0));
	ASSERT_EQ(1, n);
	EXPECT_EQ(sizeof(msg), ref.len);
	EXPECT_EQ(0, ref.offset % SLOT);
	EXPECT_EQ(ref.offset / SLOT, ref.token);
	EXPECT_EQ(0, memcmp(self->r.map + ref.offset, msg, sizeof(msg)));
	ASSERT_EQ(0, paste_info(self->srv, &info));
	EXPECT_EQ(1, info.refs_outstanding);
	EXPECT_EQ(sizeof(msg), info.bytes_placed);
	EXPECT_EQ(sizeof(msg), info.bytes_copied);
	EXPECT_EQ(info.nr_slots - 1, info.slots_free);
}

TEST_F(recv, references_follow_tcp_byte_order)
{
	const size_t total = 2 << 20;
	static char buf[65536];
	struct paste_ref refs[256];
	uint64_t sent = 0, got = 0;
	unsigned int n, i;

	while (got < total) {
		if (sent < total) {
			size_t len = 1000 + (sent % 7000);

			if (len > total - sent)
				len = total - sent;
			stream_fill(7, sent, buf, len);
			ASSERT_EQ(0, send_all(self->cli, buf, len));
			sent += len;
		}
		ssize_t ret = paste_recv(self->srv, refs, 256, &n, MSG_DONTWAIT);

		if (ret < 0) {
			ASSERT_EQ(EAGAIN, errno);
			continue;
		}
		ASSERT_LT(0, ret);
		for (i = 0; i < n; i++) {
			ASSERT_TRUE(ref_matches(self->r.map, &refs[i], 7, got))
				TH_LOG("reference %u at stream offset %llu differs",
				       i, (unsigned long long)got);
			ASSERT_LE(refs[i].len, SLOT);
			got += refs[i].len;
		}
		ASSERT_EQ(n, paste_ioc(self->srv, PASTE_IOC_RELEASE, refs, n));
	}
	EXPECT_EQ(total, got);
}

/* Bytes copied in one call fill a buffer before the next is taken. */
TEST_F(recv, small_segments_share_a_buffer)
{
	struct paste_sock_info info;
	struct paste_ref refs[256];
	unsigned int n;

	ASSERT_EQ(0, send_segments(self->cli, 31, 200, 1));
	ASSERT_EQ(200, wait_inq_for(self->srv, 200, 30));
	ASSERT_EQ(200, paste_recv(self->srv, refs, 256, &n, 0));
	ASSERT_EQ(1, n) TH_LOG("200 one-byte segments took %u buffers", n);
	EXPECT_EQ(200, refs[0].len);
	EXPECT_TRUE(ref_matches(self->r.map, &refs[0], 31, 0));
	ASSERT_EQ(0, paste_info(self->srv, &info));
	EXPECT_EQ(1, info.refs_outstanding);
	EXPECT_EQ(info.nr_slots - 1, info.slots_free);
}

TEST_F(recv, packed_buffers_fill_to_the_slot_size)
{
	struct paste_ref refs[256];
	unsigned int n, i;
	uint64_t off = 0;

	ASSERT_EQ(0, send_segments(self->cli, 32, 3 * SLOT, 100));
	ASSERT_EQ(3 * SLOT, wait_inq_for(self->srv, 3 * SLOT, 30));
	ASSERT_EQ(3 * SLOT, paste_recv(self->srv, refs, 256, &n, 0));
	ASSERT_EQ(3, n);
	for (i = 0; i < n; off += refs[i++].len) {
		EXPECT_EQ(SLOT, refs[i].len);
		EXPECT_EQ(0, refs[i].offset % SLOT);
		EXPECT_EQ(refs[i].offset / SLOT, refs[i].token);
		EXPECT_TRUE(ref_matches(self->r.map, &refs[i], 32, off));
	}
}

/* A buffer handed out is never written again: each call takes new ones. */
TEST_F(recv, later_call_takes_a_new_buffer)
{
	struct paste_ref first, second;
	unsigned int n;

	ASSERT_EQ(0, send_segments(self->cli, 33, 10, 1));
	ASSERT_EQ(10, wait_inq_for(self->srv, 10, 30));
	ASSERT_EQ(10, paste_recv(self->srv, &first, 1, &n, 0));
	ASSERT_EQ(1, n);
	ASSERT_EQ(0, send_segments(self->cli, 34, 10, 1));
	ASSERT_EQ(10, wait_inq_for(self->srv, 10, 30));
	ASSERT_EQ(10, paste_recv(self->srv, &second, 1, &n, 0));
	ASSERT_EQ(1, n);
	EXPECT_NE(first.token, second.token);
	EXPECT_EQ(10, first.len);
	EXPECT_TRUE(ref_matches(self->r.map, &first, 33, 0));
	EXPECT_TRUE(ref_matches(self->r.map, &second, 34, 0));
}

/* Growing a reference needs no room: one is enough for many segments. */
TEST_F(recv, one_reference_of_room_takes_many_segments)
{
	struct paste_ref ref;
	unsigned int n;

	ASSERT_EQ(0, send_segments(self->cli, 35, 100, 1));
	ASSERT_EQ(100, wait_inq_for(self->srv, 100, 30));
	ASSERT_EQ(100, paste_recv(self->srv, &ref, 1, &n, 0));
	ASSERT_EQ(1, n);
	EXPECT_EQ(100, ref.len);
	EXPECT_TRUE(ref_matches(self->r.map, &ref, 35, 0));
}

TEST_F(recv, short_control_buffer_stops_early)
{
	static char buf[3 * SLOT];
	char ctrl[CMSG_SPACE(sizeof(struct paste_ref))];
	struct iovec iov = { .iov_len = sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctrl,
			      .msg_controllen = sizeof(ctrl) };
	ssize_t ret;

	stream_fill(1, 0, buf, sizeof(buf));
	ASSERT_EQ(0, send_all(self->cli, buf, sizeof(buf)));
	ASSERT_EQ(sizeof(buf), wait_inq(self->srv, sizeof(buf)));
	ret = recvmsg(self->srv, &msg, MSG_PASTE);
	/* Room for one reference: at most one slot consumed, no truncation. */
	ASSERT_LT(0, ret);
	EXPECT_LE(ret, SLOT);
	EXPECT_FALSE(msg.msg_flags & MSG_CTRUNC);
	EXPECT_EQ(sizeof(buf) - ret, wait_inq(self->srv, 0));
}

TEST_F(recv, no_control_buffer_is_emsgsize)
{
	struct iovec iov = { .iov_len = 4096 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	ASSERT_EQ(0, send_all(self->cli, "abc", 3));
	ASSERT_EQ(3, wait_inq(self->srv, 3));
	EXPECT_EQ(-1, recvmsg(self->srv, &msg, MSG_PASTE));
	EXPECT_EQ(EMSGSIZE, errno);
	/* Nothing was consumed. */
	EXPECT_EQ(3, wait_inq(self->srv, 3));
}

TEST_F(recv, peek_trunc_oob_are_eopnotsupp)
{
	static const int bad[] = { MSG_PEEK, MSG_TRUNC, MSG_OOB };
	struct paste_ref ref;
	unsigned int n, i;

	ASSERT_EQ(0, send_all(self->cli, "abc", 3));
	ASSERT_EQ(3, wait_inq(self->srv, 3));
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(-1, paste_recv(self->srv, &ref, 1, &n, bad[i]));
		EXPECT_EQ(EOPNOTSUPP, errno) TH_LOG("flag %#x", bad[i]);
	}
	EXPECT_EQ(3, wait_inq(self->srv, 3));
}

TEST_F(recv, socket_without_region_is_einval)
{
	struct paste_ref ref;
	unsigned int n;

	ASSERT_EQ(0, send_all(self->srv, "abc", 3));
	ASSERT_EQ(3, wait_inq(self->cli, 3));
	EXPECT_EQ(-1, paste_recv(self->cli, &ref, 1, &n, 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(recv, unwritable_control_buffer_is_efault)
{
	struct iovec iov = { .iov_len = 4096 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = (void *)8,
			      .msg_controllen = 4096 };

	ASSERT_EQ(0, send_all(self->cli, "abc", 3));
	ASSERT_EQ(3, wait_inq(self->srv, 3));
	EXPECT_EQ(-1, recvmsg(self->srv, &msg, MSG_PASTE));
	EXPECT_EQ(EFAULT, errno);
	/* Nothing was consumed, and the buffer went back to the region. */
	EXPECT_EQ(3, wait_inq(self->srv, 3));
}

TEST_F(recv, nonblocking_empty_is_eagain)
{
	struct paste_ref ref;
	unsigned int n;

	EXPECT_EQ(-1, paste_recv(self->srv, &ref, 1, &n, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
}

static void *send_later(void *arg)
{
	int fd = *(int *)arg;

	usleep(200000);
	send_all(fd, "late", 4);
	return NULL;
}

TEST_F(recv, blocking_waits_for_data)
{
	struct paste_ref ref;
	pthread_t t;
	unsigned int n;

	ASSERT_EQ(0, pthread_create(&t, NULL, send_later, &self->cli));
	EXPECT_EQ(4, paste_recv(self->srv, &ref, 1, &n, 0));
	EXPECT_EQ(0, memcmp(self->r.map + ref.offset, "late", 4));
	pthread_join(t, NULL);
}

struct release_first {
	int srv, cli;
	char *ctrl;
	int err;
};

/*
 * Once a blocked receive has written its first reference, release that
 * reference from here, then send the bytes the receive waits for.
 */
static void *release_first_then_send(void *arg)
{
	struct release_first *c = arg;
	struct cmsghdr *cm = (struct cmsghdr *)c->ctrl;
	struct paste_ref ref;
	char more[10];
	int i, q;

	for (i = 0; i < 5000; i++) {
		if (__atomic_load_n(&cm->cmsg_len, __ATOMIC_ACQUIRE))
			break;
		usleep(1000);
	}
	/* FIONREAD takes the socket lock: the receive now sleeps. */
	if (!cm->cmsg_len || ioctl(c->srv, FIONREAD, &q) || q) {
		c->err = ETIMEDOUT;
		return NULL;
	}
	memcpy(&ref, CMSG_DATA(cm), sizeof(ref));
	if (paste_ioc(c->srv, PASTE_IOC_RELEASE, &ref, 1) != 1) {
		c->err = errno;
		return NULL;
	}
	stream_fill(36, 10, more, sizeof(more));
	if (send_all(c->cli, more, sizeof(more)))
		c->err = errno;
	return NULL;
}

/*
 * A hostile program releases the reference a receive wrote while that
 * receive sleeps: the receive must not grow it (its buffer is free) and
 * takes a new buffer for the rest.
 */
TEST_F(recv, reference_released_while_waiting_is_not_extended)
{
	char ctrl[CMSG_SPACE(sizeof(struct paste_ref)) * 4] = {};
	struct iovec iov = { .iov_len = 20 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctrl,
			      .msg_controllen = sizeof(ctrl) };
	struct release_first c = { .srv = self->srv, .cli = self->cli,
				   .ctrl = ctrl };
	struct paste_ref refs[4];
	struct cmsghdr *cm;
	unsigned int n = 0;
	pthread_t t;

	ASSERT_EQ(0, send_segments(self->cli, 36, 10, 1));
	ASSERT_EQ(10, wait_inq_for(self->srv, 10, 30));
	ASSERT_EQ(0, pthread_create(&t, NULL, release_first_then_send, &c));
	/* Places the 10 bytes, then waits for all 20. */
	EXPECT_EQ(20, recvmsg(self->srv, &msg, MSG_PASTE | MSG_WAITALL));
	pthread_join(t, NULL);
	ASSERT_EQ(0, c.err) TH_LOG("helper: %s", strerror(c.err));
	for (cm = CMSG_FIRSTHDR(&msg); cm && n < 4; cm = CMSG_NXTHDR(&msg, cm))
		memcpy(&refs[n++], CMSG_DATA(cm), sizeof(refs[0]));
	ASSERT_EQ(2, n) TH_LOG("the released reference was extended");
	EXPECT_EQ(10, refs[0].len);
	EXPECT_EQ(10, refs[1].len);
	EXPECT_TRUE(ref_matches(self->r.map, &refs[1], 36, 10));
}

TEST_F(recv, epoll_reports_readable)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct paste_ref ref;
	unsigned int n;
	int ep = epoll_create1(0);

	ASSERT_LE(0, ep);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->srv, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	ASSERT_EQ(0, send_all(self->cli, "ping", 4));
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 5000));
	EXPECT_TRUE(out.events & EPOLLIN);
	EXPECT_EQ(4, paste_recv(self->srv, &ref, 1, &n, MSG_DONTWAIT));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	close(ep);
}

TEST_F(recv, eof_returns_zero)
{
	struct paste_ref ref;
	unsigned int n;

	ASSERT_EQ(0, send_all(self->cli, "bye", 3));
	ASSERT_EQ(0, shutdown(self->cli, SHUT_WR));
	EXPECT_EQ(3, paste_recv(self->srv, &ref, 1, &n, 0));
	EXPECT_EQ(0, paste_recv(self->srv, &ref, 1, &n, 0));
	EXPECT_EQ(0, n);
}

TEST_F(recv, counters_in_proc_net_paste)
{
	static char buf[10000];
	struct paste_ref refs[8];
	long long before = proc_paste_counter("PasteBytesPlaced");
	unsigned int n;

	ASSERT_LE(0, before);
	ASSERT_EQ(0, send_all(self->cli, buf, sizeof(buf)));
	ASSERT_EQ(sizeof(buf), wait_inq(self->srv, sizeof(buf)));
	ASSERT_EQ(sizeof(buf), paste_recv(self->srv, refs, 8, &n, 0));
	/* Other tests do not run concurrently. */
	EXPECT_EQ(before + (long long)sizeof(buf),
		  proc_paste_counter("PasteBytesPlaced"));
}

TEST_HARNESS_MAIN
