// SPDX-License-Identifier: GPL-2.0
/*
 * setsockopt(SO_PASTE_REGION): the success paths, sharing, and every
 * documented errno of attaching a region.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define REGION_LEN	(1 << 20)

FIXTURE(attach) {
	struct region r;
	int sock;
};

FIXTURE_SETUP(attach)
{
	ASSERT_EQ(0, region_open(&self->r, "attach", REGION_LEN, false));
	self->sock = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, self->sock);
}

FIXTURE_TEARDOWN(attach)
{
	close(self->sock);
	region_close(&self->r);
}

TEST_F(attach, fresh_socket_reports_region)
{
	struct paste_sock_info info;

	ASSERT_EQ(0, region_attach(self->sock, &self->r, 0));
	ASSERT_EQ(0, paste_info(self->sock, &info));
	EXPECT_EQ(0, info.region_offset);
	EXPECT_EQ(REGION_LEN, info.region_length);
	EXPECT_EQ(4096, info.slot_size);
	EXPECT_EQ(REGION_LEN / 4096, info.nr_slots);
	EXPECT_EQ(info.nr_slots, info.slots_free);
	EXPECT_EQ(0, info.refs_outstanding);
}

TEST_F(attach, listening_socket)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	ASSERT_EQ(0, bind(self->sock, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_EQ(0, listen(self->sock, 8));
	EXPECT_EQ(0, region_attach(self->sock, &self->r, 0));
}

TEST_F(attach, small_slots_and_durable)
{
	struct paste_region_req req = region_req(&self->r, PASTE_REGION_DURABLE);
	struct paste_sock_info info;

	req.slot_size = 512;
	ASSERT_EQ(0, region_attach_req(self->sock, &req));
	ASSERT_EQ(0, paste_info(self->sock, &info));
	EXPECT_EQ(512, info.slot_size);
	EXPECT_EQ(REGION_LEN / 512, info.nr_slots);
	EXPECT_EQ(PASTE_REGION_DURABLE, info.flags);
}

TEST_F(attach, same_range_is_shared)
{
	struct paste_sock_info a, b;
	int s2 = socket(AF_INET6, SOCK_STREAM, 0);
	struct paste_range own = { .offset = 0, .length = 4096 };
	struct paste_region_req req = region_req(&self->r, 0);

	ASSERT_LE(0, s2);
	ASSERT_EQ(0, region_attach(self->sock, &self->r, 0));
	/* The second attach pins one slot; the first socket sees it. */
	req.owned = (uintptr_t)&own;
	req.nr_owned = 1;
	ASSERT_EQ(0, region_attach_req(s2, &req));
	ASSERT_EQ(0, paste_info(self->sock, &a));
	ASSERT_EQ(0, paste_info(s2, &b));
	EXPECT_EQ(1, a.slots_pinned);
	EXPECT_EQ(a.slots_free, b.slots_free);
	EXPECT_EQ(a.nr_slots - 1, a.slots_free);
	close(s2);
}

TEST_F(attach, owned_ranges_are_pinned)
{
	struct paste_range own[2] = {
		{ .offset = 8192, .length = 100 },
		{ .offset = 12288, .length = 8192 },
	};
	struct paste_region_req req = region_req(&self->r, 0);
	struct paste_sock_info info;

	req.owned = (uintptr_t)own;
	req.nr_owned = 2;
	ASSERT_EQ(0, region_attach_req(self->sock, &req));
	ASSERT_EQ(0, paste_info(self->sock, &info));
	EXPECT_EQ(3, info.slots_pinned);
	EXPECT_EQ(info.nr_slots - 3, info.slots_free);
}

TEST_F(attach, twice_is_ebusy)
{
	ASSERT_EQ(0, region_attach(self->sock, &self->r, 0));
	EXPECT_EQ(-1, region_attach(self->sock, &self->r, 0));
	EXPECT_EQ(EBUSY, errno);
}

TEST_F(attach, overlapping_other_range_is_ebusy)
{
	struct paste_region_req req = region_req(&self->r, 0);
	int s2 = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_EQ(0, region_attach(self->sock, &self->r, 0));
	req.offset = 4096;
	req.length = 8192;
	req.addr += 4096;
	EXPECT_EQ(-1, region_attach_req(s2, &req));
	EXPECT_EQ(EBUSY, errno);
	close(s2);
}

TEST_F(attach, shared_with_other_slot_size_is_einval)
{
	struct paste_region_req req = region_req(&self->r, 0);
	int s2 = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_EQ(0, region_attach(self->sock, &self->r, 0));
	req.slot_size = 2048;
	EXPECT_EQ(-1, region_attach_req(s2, &req));
	EXPECT_EQ(EINVAL, errno);
	close(s2);
}

TEST_F(attach, bad_fd_is_ebadf)
{
	struct paste_region_req req = region_req(&self->r, 0);

	req.fd = 999;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EBADF, errno);
}

TEST_F(attach, directory_is_ebadf)
{
	struct paste_region_req req = region_req(&self->r, 0);

	req.fd = open(PMEM_DIR, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, req.fd);
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EBADF, errno);
	close(req.fd);
}

TEST_F(attach, read_only_file_is_eacces)
{
	struct paste_region_req req = region_req(&self->r, 0);

	req.fd = open(self->r.path, O_RDONLY);
	ASSERT_LE(0, req.fd);
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EACCES, errno);
	close(req.fd);
}

TEST_F(attach, read_only_mapping_is_eacces)
{
	struct paste_region_req req = region_req(&self->r, 0);
	void *ro = mmap(NULL, REGION_LEN, PROT_READ,
			MAP_SHARED_VALIDATE | MAP_SYNC, self->r.fd, 0);

	ASSERT_NE(MAP_FAILED, ro);
	req.addr = (uintptr_t)ro;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EACCES, errno);
	munmap(ro, REGION_LEN);
}

TEST_F(attach, tmpfs_without_volatile_is_eopnotsupp)
{
	struct region shm;

	ASSERT_EQ(0, region_open(&shm, "attach-shm", 65536, true));
	EXPECT_EQ(-1, region_attach(self->sock, &shm, 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(0, region_attach(self->sock, &shm, PASTE_REGION_VOLATILE));
	region_close(&shm);
}

TEST_F(attach, udp_socket_is_eopnotsupp)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0);

	EXPECT_EQ(-1, region_attach(u, &self->r, 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(u);
}

TEST_F(attach, unix_socket_is_rejected)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	EXPECT_EQ(-1, region_attach(sv[0], &self->r, 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(attach, reserved_and_flags_are_einval)
{
	struct paste_region_req req = region_req(&self->r, 0);

	req.reserved[1] = 1;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
	req.reserved[1] = 0;
	req.reserved[2] = 1;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
	req.reserved[2] = 0;
	req.flags = 1U << 7;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(attach, unaligned_is_einval)
{
	struct paste_region_req req;

	req = region_req(&self->r, 0);
	req.offset = 100;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
	req = region_req(&self->r, 0);
	req.length = 5000;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
	req = region_req(&self->r, 0);
	req.addr += 8;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
	req = region_req(&self->r, 0);
	req.length = 0;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(attach, bad_slot_size_is_einval)
{
	static const unsigned int bad[] = { 256, 1000, 8192, 3 };
	struct paste_region_req req = region_req(&self->r, 0);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		req.slot_size = bad[i];
		EXPECT_EQ(-1, region_attach_req(self->sock, &req));
		EXPECT_EQ(EINVAL, errno) TH_LOG("slot_size %u", bad[i]);
	}
}

TEST_F(attach, past_end_of_file_is_einval)
{
	struct paste_region_req req = region_req(&self->r, 0);

	req.length = 2 * REGION_LEN;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(attach, mapping_of_other_file_is_einval)
{
	struct region other;
	struct paste_region_req req = region_req(&self->r, 0);

	ASSERT_EQ(0, region_open(&other, "attach-other", REGION_LEN, false));
	req.addr = (uintptr_t)other.map;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
	region_close(&other);
}

TEST_F(attach, mapping_of_other_offset_is_einval)
{
	struct paste_region_req req = region_req(&self->r, 0);

	req.offset = 4096;
	req.length = 4096;
	/* addr maps file offset 0, not 4096 */
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(attach, mapping_without_map_sync_is_einval)
{
	struct paste_region_req req = region_req(&self->r, 0);
	void *p = mmap(NULL, REGION_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
		       self->r.fd, 0);

	ASSERT_NE(MAP_FAILED, p);
	req.addr = (uintptr_t)p;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
	munmap(p, REGION_LEN);
}

TEST_F(attach, unmapped_address_is_einval)
{
	struct paste_region_req req = region_req(&self->r, 0);

	req.addr = 0x10000;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(attach, wrong_optlen_is_einval)
{
	struct paste_region_req req = region_req(&self->r, 0);

	EXPECT_EQ(-1, setsockopt(self->sock, SOL_SOCKET, SO_PASTE_REGION,
				 &req, sizeof(req) - 8));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(attach, bad_pointer_is_efault)
{
	EXPECT_EQ(-1, setsockopt(self->sock, SOL_SOCKET, SO_PASTE_REGION,
				 (void *)8, sizeof(struct paste_region_req)));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(attach, owned_outside_region_is_erange)
{
	struct paste_range own = { .offset = REGION_LEN, .length = 4096 };
	struct paste_region_req req = region_req(&self->r, 0);

	req.owned = (uintptr_t)&own;
	req.nr_owned = 1;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(ERANGE, errno);
}

TEST_F(attach, overlapping_owned_is_einval)
{
	struct paste_range own[2] = {
		{ .offset = 0, .length = 8192 },
		{ .offset = 4096, .length = 4096 },
	};
	struct paste_region_req req = region_req(&self->r, 0);
	struct paste_sock_info info;

	req.owned = (uintptr_t)own;
	req.nr_owned = 2;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
	/* Nothing changed: a clean attach still works. */
	ASSERT_EQ(0, region_attach(self->sock, &self->r, 0));
	ASSERT_EQ(0, paste_info(self->sock, &info));
	EXPECT_EQ(0, info.slots_pinned);
}

TEST_F(attach, bad_owned_pointer_is_efault)
{
	struct paste_region_req req = region_req(&self->r, 0);

	req.owned = 8;
	req.nr_owned = 1;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(attach, too_many_owned_is_einval)
{
	struct paste_region_req req = region_req(&self->r, 0);

	req.owned = 8;
	req.nr_owned = PASTE_MAX_OWNED + 1;
	EXPECT_EQ(-1, region_attach_req(self->sock, &req));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(attach, getsockopt_without_region_is_enoent)
{
	struct paste_sock_info info;

	EXPECT_EQ(-1, paste_info(self->sock, &info));
	EXPECT_EQ(ENOENT, errno);
}

TEST_F(attach, getsockopt_errors)
{
	struct paste_sock_info info;
	socklen_t len = sizeof(info);
	int u = socket(AF_INET, SOCK_DGRAM, 0);

	ASSERT_EQ(0, region_attach(self->sock, &self->r, 0));
	EXPECT_EQ(-1, getsockopt(u, SOL_SOCKET, SO_PASTE_REGION, &info, &len));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, getsockopt(self->sock, SOL_SOCKET, SO_PASTE_REGION,
				 (void *)8, &len));
	EXPECT_EQ(EFAULT, errno);
	/* A short buffer gets a prefix, and says how much it got. */
	len = 8;
	EXPECT_EQ(0, getsockopt(self->sock, SOL_SOCKET, SO_PASTE_REGION, &info, &len));
	EXPECT_EQ(8, len);
	EXPECT_EQ(0, info.region_offset);
	close(u);
}

TEST_F(attach, region_goes_away_with_last_socket)
{
	struct stat st;
	int tries;

	ASSERT_EQ(0, fstat(self->r.fd, &st));
	ASSERT_EQ(0, region_attach(self->sock, &self->r, 0));
	EXPECT_EQ(1, proc_paste_regions_of(st.st_ino));
	close(self->sock);
	self->sock = socket(AF_INET, SOCK_STREAM, 0);
	/* Teardown runs from a work item: poll briefly. */
	for (tries = 0; tries < 100 && proc_paste_regions_of(st.st_ino); tries++)
		usleep(20000);
	EXPECT_EQ(0, proc_paste_regions_of(st.st_ino));
}

TEST_HARNESS_MAIN
