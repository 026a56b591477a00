// SPDX-License-Identifier: GPL-2.0
/*
 * Randomised arguments for setsockopt(SO_PASTE_REGION), getsockopt and
 * ioctl(SIOCPASTE): thousands of calls mixing valid and corrupted fields.
 * Every failure must carry a documented errno; the kernel log is checked
 * for splats by the VM runner. At the end the region's books must balance.
 */
#include "kselftest_harness.h"
#include "paste_sock.h"

#define LEN	(256 << 10)
#define SLOT	4096
#define ROUNDS	4000

static uint64_t rnd_state = 0x243f6a8885a308d3ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static uint64_t pick(const uint64_t *v, unsigned int n)
{
	return v[rnd() % n];
}

static bool errno_in(int e, const int *set, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (set[i] == e)
			return true;
	return false;
}

FIXTURE(fuzz) {
	struct region r;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int lsn, cli, srv;
};

FIXTURE_SETUP(fuzz)
{
	char seed[32];

	if (cmdline_arg("nonce", seed, sizeof(seed)))
		rnd_state ^= strtoull(seed, NULL, 16);
	TH_LOG("seed %#llx", (unsigned long long)rnd_state);
	ASSERT_EQ(0, region_open(&self->r, "fuzz", LEN, false));
	self->lsn = tcp_listener(AF_INET, &self->ss, &self->sslen);
	ASSERT_LE(0, self->lsn);
	ASSERT_EQ(0, region_attach(self->lsn, &self->r, 0));
	ASSERT_EQ(0, tcp_pair(self->lsn, &self->ss, self->sslen,
			      &self->cli, &self->srv));
}

FIXTURE_TEARDOWN(fuzz)
{
	close(self->cli);
	close(self->srv);
	close(self->lsn);
	region_close(&self->r);
}

TEST_F(fuzz, setsockopt_random_requests)
{
	static const int ok_errno[] = { EINVAL, EBADF, EACCES, EOPNOTSUPP,
					EBUSY, ERANGE, EFAULT, ENOMEM };
	const uint64_t offs[] = { 0, 4096, LEN / 2, LEN, LEN - 4096, 1, 4095,
				  UINT64_MAX, UINT64_MAX - 4095, 1ULL << 40 };
	const uint64_t lens[] = { 0, 4096, LEN, LEN / 2, 2 * LEN, 4097,
				  UINT64_MAX, UINT64_MAX - 4095, 1ULL << 36 };
	int ro = open(self->r.path, O_RDONLY), dir = open(PMEM_DIR, O_RDONLY);
	int fds[] = { self->r.fd, -1, 999, ro, dir, self->srv, 0 };
	struct paste_range owned[8];
	int i, ok = 0, j;

	for (i = 0; i < ROUNDS; i++) {
		struct paste_region_req req = region_req(&self->r, 0);
		int sock = socket(rnd() & 1 ? AF_INET : AF_INET6,
				  rnd() % 8 ? SOCK_STREAM : SOCK_DGRAM, 0);
		unsigned int optlen = sizeof(req);

		switch (rnd() % 12) {
		case 0:
			req.fd = fds[rnd() % 7];
			break;
		case 1:
			req.flags = rnd();
			break;
		case 2:
			req.offset = pick(offs, 10);
			break;
		case 3:
			req.length = pick(lens, 9);
			break;
		case 4:
			req.addr += pick(offs, 10);
			break;
		case 5:
			req.slot_size = 1U << (rnd() % 16);
			break;
		case 6:
			req.reserved[rnd() % 3] = rnd();
			break;
		case 7:
			optlen = rnd() % (2 * sizeof(req));
			break;
		case 8:
			req.nr_owned = 1 + rnd() % 8;
			for (j = 0; j < (int)req.nr_owned; j++) {
				owned[j].offset = pick(offs, 10);
				owned[j].length = pick(lens, 9);
			}
			req.owned = rnd() % 4 ? (uintptr_t)owned : rnd();
			break;
		case 9:
			req.nr_owned = rnd();
			req.owned = rnd();
			break;
		case 10:
			req.flags = PASTE_REGION_VOLATILE | PASTE_REGION_DURABLE;
			break;
		default:
			break;
		}
		if (setsockopt(sock, SOL_SOCKET, SO_PASTE_REGION, &req, optlen)) {
			ASSERT_TRUE(errno_in(errno, ok_errno, 8))
				TH_LOG("round %d: unexpected errno %d (%s)", i,
				       errno, strerror(errno));
		} else {
			ok++;
		}
		close(sock);
	}
	TH_LOG("%d of %d attaches succeeded", ok, ROUNDS);
	EXPECT_LT(0, ok);
	close(ro);
	close(dir);
}

TEST_F(fuzz, ioctl_random_batches)
{
	static const int ok_errno[] = { EINVAL, ERANGE, ENOENT, EALREADY,
					EFAULT, ENOMEM };
	static char buf[8 * SLOT];
	struct paste_ref refs[64], held[64];
	struct paste_sock_info info;
	unsigned int nheld = 0, n, k;
	int i, ret;

	for (i = 0; i < ROUNDS; i++) {
		struct paste_ioc ioc = {
			.op = rnd() % 5,
			.count = rnd() % 4 ? 1 + rnd() % 64 : rnd(),
			.refs = rnd() % 8 ? (uintptr_t)refs : rnd(),
		};

		if (rnd() % 16 == 0)
			ioc.reserved = rnd();
		for (k = 0; k < 64; k++) {
			refs[k].token = rnd() % 4 ? rnd() % (LEN / SLOT + 4) : rnd();
			refs[k].offset = rnd() % 2 ? rnd() % (LEN + 8192) : rnd();
			refs[k].len = rnd() % 2 ? rnd() % 8192 : rnd();
			if (nheld && rnd() % 2)
				refs[k] = held[rnd() % nheld];
		}
		ret = ioctl(rnd() % 4 ? self->srv : self->cli, SIOCPASTE, &ioc);
		if (ret < 0) {
			ASSERT_TRUE(errno_in(errno, ok_errno, 6))
				TH_LOG("round %d: unexpected errno %d (%s)", i,
				       errno, strerror(errno));
		} else {
			ASSERT_LE(ret, (int)ioc.count);
		}

		/* Keep some buffers flowing so tokens are real. */
		if (i % 50 == 0) {
			ASSERT_EQ(0, send_all(self->cli, buf, sizeof(buf)));
			wait_inq(self->srv, sizeof(buf));
			if (paste_recv(self->srv, refs, 64, &n, MSG_DONTWAIT) > 0)
				for (k = 0; k < n && nheld < 64; k++)
					held[nheld++] = refs[k];
		}
	}
	/* Books balance: free + pinned + held by srv = all slots. */
	ASSERT_EQ(0, paste_info(self->srv, &info));
	EXPECT_EQ(info.nr_slots,
		  info.slots_free + info.slots_pinned + info.refs_outstanding);
}

TEST_HARNESS_MAIN
