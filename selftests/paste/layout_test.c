// SPDX-License-Identifier: GPL-2.0
/*
 * The layout lock: while a region is bound to a file, every size change
 * (truncate, ftruncate, O_TRUNC) and hole punch, collapse, insert and
 * zero-range fail with ETXTBSY; once the last region is gone, everything
 * works again. Allocating blocks works on ext4 and shmem; XFS on DAX waits
 * for idle pages on every fallocate(), so it fails with ETXTBSY there.
 * On XFS, reflink and dedupe with a bound file on either side fail with
 * ETXTBSY (they too would wait for, or spin on, pages that never go idle),
 * and copy_file_range() from a bound file copies.
 */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define LEN	(1 << 20)

FIXTURE(layout) {
	struct region r;
	int sock;
};

#define XFS_DIR	"/mnt/xfs"

FIXTURE_VARIANT(layout) {
	const char *dir;
	bool volatile_shm;
	bool may_allocate;
};

FIXTURE_VARIANT_ADD(layout, fsdax) {
	.dir = PMEM_DIR,
	.may_allocate = true,
};

FIXTURE_VARIANT_ADD(layout, shmem) {
	.dir = "/dev/shm",
	.volatile_shm = true,
	.may_allocate = true,
};

FIXTURE_VARIANT_ADD(layout, xfs_fsdax) {
	.dir = XFS_DIR,
};

FIXTURE_SETUP(layout)
{
	ASSERT_EQ(0, region_open_in(&self->r, variant->dir, "layout", LEN,
				    variant->volatile_shm));
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

TEST_F(layout, allocating_inside_is_allowed_but_on_xfs)
{
	int want = variant->may_allocate ? 0 : -1;
	struct stat st;

	EXPECT_EQ(want, fallocate(self->r.fd, 0, 0, LEN));
	if (!variant->may_allocate)
		EXPECT_EQ(ETXTBSY, errno);
	EXPECT_EQ(want, fallocate(self->r.fd, FALLOC_FL_KEEP_SIZE, 4096, 4096));
	if (!variant->may_allocate)
		EXPECT_EQ(ETXTBSY, errno);
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

	ASSERT_EQ(0, region_open_in(&other, variant->dir, "layout-other", LEN,
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

/* A bound file and another one on XFS with reflink, both on DAX. */
FIXTURE(xfs_remap) {
	struct region r;
	int sock, other;
	char other_path[128];
};

FIXTURE_SETUP(xfs_remap)
{
	char buf[4096];
	int i;

	ASSERT_EQ(0, region_open_in(&self->r, XFS_DIR, "remap", LEN, false));
	for (i = 0; i < LEN / 4096; i++) {
		stream_fill(31, (uint64_t)i * 4096, buf, sizeof(buf));
		memcpy(self->r.map + (size_t)i * 4096, buf, sizeof(buf));
	}
	ASSERT_EQ(0, msync(self->r.map, LEN, MS_SYNC));
	snprintf(self->other_path, sizeof(self->other_path), XFS_DIR "/remap-other");
	self->other = pmem_file_create(self->other_path, LEN);
	ASSERT_LE(0, self->other);
	self->sock = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, region_attach(self->sock, &self->r, 0));
	/* What made the unfixed kernel spin is quick with the fix. */
	alarm(20);
}

FIXTURE_TEARDOWN(xfs_remap)
{
	alarm(0);
	close(self->sock);
	close(self->other);
	unlink(self->other_path);
	region_close(&self->r);
}

TEST_F(xfs_remap, clone_from_bound_file_is_etxtbsy)
{
	EXPECT_EQ(-1, ioctl(self->other, FICLONE, self->r.fd));
	EXPECT_EQ(ETXTBSY, errno);
}

TEST_F(xfs_remap, clone_into_bound_file_is_etxtbsy)
{
	EXPECT_EQ(-1, ioctl(self->r.fd, FICLONE, self->other));
	EXPECT_EQ(ETXTBSY, errno);
}

TEST_F(xfs_remap, dedupe_with_bound_file_is_etxtbsy)
{
	struct {
		struct file_dedupe_range range;
		struct file_dedupe_range_info info;
	} d = {
		.range = { .src_offset = 0, .src_length = 4096, .dest_count = 1 },
		.info = { .dest_fd = self->other, .dest_offset = 0 },
	};
	int ret = ioctl(self->r.fd, FIDEDUPERANGE, &d);

	/* Refused as a whole, or for the one destination. */
	EXPECT_EQ(-ETXTBSY, ret ? -errno : d.info.status);
}

TEST_F(xfs_remap, copy_from_bound_file_copies)
{
	char *want = malloc(LEN), *got = malloc(LEN);
	loff_t in = 0, out = 0;
	ssize_t n, done = 0;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	while (done < LEN) {
		n = copy_file_range(self->r.fd, &in, self->other, &out,
				    LEN - done, 0);
		ASSERT_LT(0, n) TH_LOG("copy_file_range: %s", strerror(errno));
		done += n;
	}
	stream_fill(31, 0, want, LEN);
	ASSERT_EQ(LEN, pread(self->other, got, LEN, 0));
	EXPECT_EQ(0, memcmp(want, got, LEN));
	free(want);
	free(got);
}

TEST_HARNESS_MAIN
