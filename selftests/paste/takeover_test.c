// SPDX-License-Identifier: GPL-2.0
/*
 * A ULP (kTLS) or a sockmap psock replaces a TCP socket's recvmsg, which
 * would then ignore MSG_PASTE. Each is refused on a socket with a region,
 * and a region is refused on a socket with either: EOPNOTSUPP both ways.
 * Every refusal has a control showing that the same call succeeds on a
 * plain socket, so the errno is PASTE's and not a missing feature, and
 * sockets of other families still join sockmaps.
 */
#include <linux/bpf.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define REGION_LEN	(64 << 10)

FIXTURE(takeover) {
	struct region r;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int lsn, cli, srv;
};

FIXTURE_SETUP(takeover)
{
	ASSERT_EQ(0, region_open(&self->r, "takeover", REGION_LEN, false));
	self->lsn = tcp_listener(AF_INET, &self->ss, &self->sslen);
	ASSERT_LE(0, self->lsn);
	ASSERT_EQ(0, tcp_pair(self->lsn, &self->ss, self->sslen, &self->cli,
			      &self->srv));
}

FIXTURE_TEARDOWN(takeover)
{
	close(self->cli);
	close(self->srv);
	close(self->lsn);
	region_close(&self->r);
}

static int set_tls_ulp(int fd)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls"));
}

/* A sockmap of 4 entries, or -1. */
static int sockmap_create(void)
{
	union bpf_attr attr = {
		.map_type = BPF_MAP_TYPE_SOCKMAP,
		.key_size = 4,
		.value_size = 4,
		.max_entries = 4,
	};

	return syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
}

static int sockmap_add(int map, unsigned int key, int fd)
{
	union bpf_attr attr = {
		.map_fd = map,
		.key = (uintptr_t)&key,
		.value = (uintptr_t)&fd,
		.flags = BPF_ANY,
	};

	return syscall(__NR_bpf, BPF_MAP_UPDATE_ELEM, &attr, sizeof(attr));
}

static int sockmap_del(int map, unsigned int key)
{
	union bpf_attr attr = { .map_fd = map, .key = (uintptr_t)&key };

	return syscall(__NR_bpf, BPF_MAP_DELETE_ELEM, &attr, sizeof(attr));
}

TEST_F(takeover, tls_ulp_refused_on_paste_socket)
{
	ASSERT_EQ(0, region_attach(self->srv, &self->r, 0));
	EXPECT_EQ(-1, set_tls_ulp(self->srv));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* Control: the peer, without a region, takes the ULP. */
	EXPECT_EQ(0, set_tls_ulp(self->cli)) TH_LOG("no kTLS: %s", strerror(errno));
}

TEST_F(takeover, paste_refused_on_tls_socket)
{
	ASSERT_EQ(0, set_tls_ulp(self->srv)) TH_LOG("no kTLS: %s", strerror(errno));
	EXPECT_EQ(-1, region_attach(self->srv, &self->r, 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(0, region_attach(self->cli, &self->r, 0));
}

TEST_F(takeover, sockmap_refuses_paste_socket)
{
	int map = sockmap_create();

	ASSERT_LE(0, map) TH_LOG("no sockmap: %s", strerror(errno));
	ASSERT_EQ(0, region_attach(self->srv, &self->r, 0));
	EXPECT_EQ(-1, sockmap_add(map, 0, self->srv));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* Control: a plain established socket goes in. */
	EXPECT_EQ(0, sockmap_add(map, 1, self->cli)) TH_LOG("%s", strerror(errno));
	close(map);
}

TEST_F(takeover, paste_refused_on_sockmap_socket)
{
	struct paste_sock_info info;
	int map = sockmap_create(), i;

	ASSERT_LE(0, map) TH_LOG("no sockmap: %s", strerror(errno));
	ASSERT_EQ(0, sockmap_add(map, 0, self->srv)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(-1, region_attach(self->srv, &self->r, 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	/* Out of the map, the socket has its own recvmsg back. */
	ASSERT_EQ(0, sockmap_del(map, 0));
	for (i = 0; i < 100 && region_attach(self->srv, &self->r, 0); i++)
		usleep(20000);
	EXPECT_EQ(0, paste_info(self->srv, &info)) TH_LOG("%s", strerror(errno));
	close(map);
}

TEST_F(takeover, listener_with_region_refuses_sockmap)
{
	int map = sockmap_create();

	ASSERT_LE(0, map);
	ASSERT_EQ(0, region_attach(self->lsn, &self->r, 0));
	EXPECT_EQ(-1, sockmap_add(map, 0, self->lsn));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(map);
}

/*
 * Sockets of other families have no PASTE state to look at: a UDP socket
 * and a connected AF_UNIX stream socket still go into a sockmap.
 */
TEST(other_families_still_join_sockmaps)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int map = sockmap_create(), udp, sv[2];

	ASSERT_LE(0, map) TH_LOG("no sockmap: %s", strerror(errno));
	udp = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, udp);
	ASSERT_EQ(0, bind(udp, (struct sockaddr *)&sin, sizeof(sin)));
	EXPECT_EQ(0, sockmap_add(map, 0, udp)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	EXPECT_EQ(0, sockmap_add(map, 1, sv[0])) TH_LOG("%s", strerror(errno));
	close(sv[0]);
	close(sv[1]);
	close(udp);
	close(map);
}

TEST_HARNESS_MAIN
