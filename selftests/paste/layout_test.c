// SPDX-License-Identifier: GPL-2.0
/*
 * The layout lock: while a region is bound to a file, every size change
 * (truncate, ftruncate, O_TRUNC) and hole punch, collapse, insert and
 * zero-range fail with ETXTBSY; allocating blocks still works; once the last
 * region is gone, everything works again.
 */
#include <sys/stat.h>
#include <linux/falloc.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define LEN	(1 << 20)

FIXTURE(layout) {
	struct region r;
	int sock;
};

FIXTURE_VARIANT(layout) {
	bool volatile_shm;
};

FIXTURE_VARIANT_ADD(layout, fsdax) {
	.volatile_shm = false,
};

FIXTURE_VARIANT_ADD(layout, shmem) {
	.volatile_shm = true,
};

FIXTURE_SETUP(layout)
{
	ASSERT_EQ(0, region_open(&self->r, "layout", LEN, variant->volatile_shm));
	self->sock = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, region_attach(self->sock, &self->r,
				   variant->volatile_shm ? PASTE_REGION_VOLATILE : 0));
}

FIXTURE_TEARDOWN(layout)
{
	if (self->sock >= 0)
		close(self->sock);
	region_close(&self->r);
}

TEST_F(layout, shrinking_is_etxtbsy)
{
	EXPECT_EQ(-1, ftruncate(self->r.fd, LEN / 2));
	EXPECT_EQ(ETXTBSY, errno);
	EXPECT_EQ(-1, truncate(self->r.path, 0));
	EXPECT_EQ(ETXTBSY, errno);
	EXPECT_EQ(-1, open(self->r.path, O_RDWR | O_TRUNC));
	EXPECT_EQ(ETXTBSY, errno);
}

TEST_F(layout, growing_truncate_is_etxtbsy)
{
	/* ext4 on DAX would wait for our page references even when growing. */
	EXPECT_EQ(-1, ftruncate(self->r.fd, 2 * LEN));
	EXPECT_EQ(ETXTBSY, errno);
}

TEST_F(layout, allocating_inside_is_allowed)
{
	struct stat st;

	EXPECT_EQ(0, fallocate(self->r.fd, 0, 0, LEN));
	EXPECT_EQ(0, fallocate(self->r.fd, FALLOC_FL_KEEP_SIZE, 4096, 4096));
	ASSERT_EQ(0, fstat(self->r.fd, &st));
	EXPECT_EQ(LEN, st.st_size);
}

TEST_F(layout, punch_collapse_insert_zero_are_etxtbsy)
{
	static const int modes[] = {
		FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_COLLAPSE_RANGE,
		FALLOC_FL_INSERT_RANGE,
		FALLOC_FL_ZERO_RANGE,
	};
	unsigned int i;

	for (i = 0; i < 4; i++) {
		EXPECT_EQ(-1, fallocate(self->r.fd, modes[i], 0, 4096));
		EXPECT_EQ(ETXTBSY, errno) TH_LOG("mode %#x", modes[i]);
	}
}

TEST_F(layout, other_files_are_not_locked)
{
	struct region other;

	ASSERT_EQ(0, region_open(&other, "layout-other", LEN,
				 variant->volatile_shm));
	EXPECT_EQ(0, ftruncate(other.fd, 4096));
	region_close(&other);
}

TEST_F(layout, unlocked_after_last_socket)
{
	int i, ret = -1;

	close(self->sock);
	self->sock = -1;
	/* The region is torn down from a work item. */
	for (i = 0; i < 200; i++) {
		ret = ftruncate(self->r.fd, 0);
		if (!ret || errno != ETXTBSY)
			break;
		usleep(10000);
	}
	EXPECT_EQ(0, ret) TH_LOG("truncate: %s", strerror(errno));
}

TEST_HARNESS_MAIN
