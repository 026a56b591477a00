// SPDX-License-Identifier: GPL-2.0
/*
 * inet_diag: a sock_diag dump that asks for INET_DIAG_INFO gets an
 * INET_DIAG_PASTE attribute, the socket's struct paste_sock_info, for each
 * TCP socket with a region (listeners and accepted sockets alike), and
 * none for other sockets.
 */
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define NR_SLOTS	16
#define SLOT		4096

struct diag_found {
	bool seen;			/* a socket with that port was dumped */
	bool has_paste;			/* ... and carried INET_DIAG_PASTE */
	struct paste_sock_info info;
};

/*
 * Dump the AF_INET6 TCP sockets in @states and find the one whose local
 * (@sport) and remote (@dport, 0 for a listener) ports match.
 */
static int diag_find(uint16_t sport, uint16_t dport, uint32_t states,
		     struct diag_found *found)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.req = {
			.sdiag_family = AF_INET6,
			.sdiag_protocol = IPPROTO_TCP,
			.idiag_ext = 1 << (INET_DIAG_INFO - 1),
			.idiag_states = states,
		},
	};
	static char buf[65536] __attribute__((aligned(8)));
	int fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG);
	struct nlmsghdr *h;
	ssize_t n;

	memset(found, 0, sizeof(*found));
	if (fd < 0 || send(fd, &msg, sizeof(msg), 0) != sizeof(msg))
		goto fail;
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			goto fail;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			struct inet_diag_msg *d = NLMSG_DATA(h);
			struct rtattr *a;
			int len;

			if (h->nlmsg_type == NLMSG_DONE) {
				close(fd);
				return 0;
			}
			if (h->nlmsg_type == NLMSG_ERROR)
				goto fail;
			if (ntohs(d->id.idiag_sport) != sport ||
			    ntohs(d->id.idiag_dport) != dport)
				continue;
			found->seen = true;
			len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*d));
			for (a = (struct rtattr *)(d + 1); RTA_OK(a, len);
			     a = RTA_NEXT(a, len)) {
				if (a->rta_type != INET_DIAG_PASTE)
					continue;
				if (RTA_PAYLOAD(a) < (int)sizeof(found->info))
					goto fail;
				memcpy(&found->info, RTA_DATA(a), sizeof(found->info));
				found->has_paste = true;
			}
		}
	}
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static uint16_t port_of(int fd, bool peer)
{
	struct sockaddr_in6 a;
	socklen_t len = sizeof(a);

	if (peer ? getpeername(fd, (struct sockaddr *)&a, &len) :
		   getsockname(fd, (struct sockaddr *)&a, &len))
		return 0;
	return ntohs(a.sin6_port);
}

FIXTURE(diag) {
	struct region r;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int lsn, cli, srv;
};

FIXTURE_SETUP(diag)
{
	ASSERT_EQ(0, region_open(&self->r, "diag", NR_SLOTS * SLOT, false));
	self->lsn = tcp_listener(AF_INET6, &self->ss, &self->sslen);
	ASSERT_LE(0, self->lsn);
	self->cli = -1;
	self->srv = -1;
}

FIXTURE_TEARDOWN(diag)
{
	close(self->cli);
	close(self->srv);
	close(self->lsn);
	region_close(&self->r);
}

/* What ss -i would show of an accepted socket is what its owner sees. */
TEST_F(diag, accepted_socket_shows_its_region_and_counters)
{
	struct paste_region_req req = region_req(&self->r, 0);
	struct paste_sock_info own;
	struct paste_ref refs[8];
	struct diag_found f;
	char buf[3000];
	unsigned int n;

	req.max_held = 8;
	ASSERT_EQ(0, region_attach_req(self->lsn, &req));
	ASSERT_EQ(0, tcp_pair(self->lsn, &self->ss, self->sslen,
			      &self->cli, &self->srv));
	stream_fill(5, 0, buf, sizeof(buf));
	ASSERT_EQ(0, send_all(self->cli, buf, sizeof(buf)));
	ASSERT_LT(0, wait_inq(self->srv, sizeof(buf)));
	ASSERT_EQ((ssize_t)sizeof(buf), paste_recv(self->srv, refs, 8, &n, 0));
	ASSERT_EQ(0, paste_info(self->srv, &own));

	ASSERT_EQ(0, diag_find(port_of(self->srv, false), port_of(self->srv, true),
			       1 << 1 /* TCP_ESTABLISHED */, &f));
	ASSERT_TRUE(f.seen);
	ASSERT_TRUE(f.has_paste);
	EXPECT_EQ(0, memcmp(&own, &f.info, sizeof(own)));
	EXPECT_EQ(NR_SLOTS * SLOT, f.info.region_length);
	EXPECT_EQ(sizeof(buf), f.info.bytes_placed);
	EXPECT_EQ(n, f.info.refs_outstanding);
	EXPECT_EQ(8, f.info.max_held);
}

TEST_F(diag, listener_shows_its_region)
{
	struct diag_found f;

	ASSERT_EQ(0, region_attach(self->lsn, &self->r, 0));
	ASSERT_EQ(0, diag_find(port_of(self->lsn, false), 0,
			       1 << 10 /* TCP_LISTEN */, &f));
	ASSERT_TRUE(f.seen);
	ASSERT_TRUE(f.has_paste);
	EXPECT_EQ(NR_SLOTS, f.info.nr_slots);
	EXPECT_EQ(NR_SLOTS, f.info.slots_free);
}

/* Sockets without a region, the client of the pair here, carry none. */
TEST_F(diag, socket_without_region_has_no_attribute)
{
	struct diag_found f;

	ASSERT_EQ(0, region_attach(self->lsn, &self->r, 0));
	ASSERT_EQ(0, tcp_pair(self->lsn, &self->ss, self->sslen,
			      &self->cli, &self->srv));
	ASSERT_EQ(0, diag_find(port_of(self->cli, false), port_of(self->cli, true),
			       1 << 1, &f));
	ASSERT_TRUE(f.seen);
	EXPECT_FALSE(f.has_paste);
}

TEST_HARNESS_MAIN
