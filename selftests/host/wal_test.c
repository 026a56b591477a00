// SPDX-License-Identifier: MIT
/*
 * Host unit tests of libpaste's WAL: entry encoding, group commit,
 * recovery of the valid prefix, torn tails, stale epochs and checkpoints.
 * Runs on tmpfs with PASTE_MAP_ALLOW_NOSYNC: the logic, not durability.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libpaste.h"

#define DATA_LEN	(1 << 20)

FIXTURE(wal) {
	char dir[64];
	char path[128];
	char *data;
	struct paste_wal w;
};

FIXTURE_SETUP(wal)
{
	strcpy(self->dir, "/dev/shm/wal-test-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->path, sizeof(self->path), "%s/wal", self->dir);
	self->data = aligned_alloc(4096, DATA_LEN);
	ASSERT_NE(NULL, self->data);
	for (int i = 0; i < DATA_LEN; i++)
		self->data[i] = (char)(i * 7 + 3);
	ASSERT_EQ(0, paste_wal_open(&self->w, self->path, 4096, self->data,
				    DATA_LEN, PASTE_MAP_ALLOW_NOSYNC));
}

FIXTURE_TEARDOWN(wal)
{
	paste_wal_close(&self->w);
	unlink(self->path);
	rmdir(self->dir);
	free(self->data);
}

struct collected {
	unsigned int records, pieces;
	struct paste_wal_rec last[PASTE_WAL_MAX_PIECES];
	unsigned int nlast;
};

static int collect(void *arg, const struct paste_wal_rec *p, unsigned int n)
{
	struct collected *c = arg;

	c->records++;
	c->pieces += n;
	memcpy(c->last, p, n * sizeof(*p));
	c->nlast = n;
	return 0;
}

static void reopen(struct __test_metadata *_metadata, FIXTURE_DATA(wal) *self)
{
	paste_wal_close(&self->w);
	ASSERT_EQ(0, paste_wal_open(&self->w, self->path, 0, self->data,
				    DATA_LEN, PASTE_MAP_ALLOW_NOSYNC));
}

TEST_F(wal, encode_decode_roundtrip)
{
	struct paste_wal_rec in = { .offset = 123456, .len = 1156, .more = true };
	struct paste_wal_rec out;
	uint64_t e = paste_wal_encode(&in, 7, self->data + in.offset);

	ASSERT_TRUE(paste_wal_decode(e, 7, self->data, DATA_LEN, &out));
	EXPECT_EQ(in.offset, out.offset);
	EXPECT_EQ(in.len, out.len);
	EXPECT_EQ(in.more, out.more);
	/* Wrong epoch, changed payload, out-of-range: rejected. */
	EXPECT_FALSE(paste_wal_decode(e, 8, self->data, DATA_LEN, &out));
	EXPECT_FALSE(paste_wal_decode(e, 9, self->data, DATA_LEN, &out));
	self->data[in.offset + 100] ^= 1;
	EXPECT_FALSE(paste_wal_decode(e, 7, self->data, DATA_LEN, &out));
	self->data[in.offset + 100] ^= 1;
	EXPECT_FALSE(paste_wal_decode(e, 7, self->data, in.offset + 10, &out));
	EXPECT_FALSE(paste_wal_decode(0, 0, self->data, DATA_LEN, &out));
}

TEST_F(wal, add_rejects_bad_pieces)
{
	EXPECT_EQ(-EINVAL, paste_wal_add(&self->w, 0, 0, false));
	EXPECT_EQ(-EINVAL, paste_wal_add(&self->w, 0, PASTE_WAL_MAX_LEN + 1, false));
	EXPECT_EQ(-EINVAL, paste_wal_add(&self->w, DATA_LEN - 10, 11, false));
}

TEST_F(wal, committed_records_are_recovered)
{
	struct collected c = { 0 };
	int i;

	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, paste_wal_add(&self->w, i * 2000, 1000, true));
		ASSERT_EQ(0, paste_wal_add(&self->w, i * 2000 + 1000, 500, false));
		if (i % 10 == 9)
			ASSERT_EQ(20, paste_wal_commit(&self->w));
	}
	reopen(_metadata, self);
	EXPECT_EQ(100, paste_wal_recover(&self->w, collect, &c));
	EXPECT_EQ(100, c.records);
	EXPECT_EQ(200, c.pieces);
	EXPECT_EQ(200, self->w.tail);
	EXPECT_EQ(2, c.nlast);
	EXPECT_EQ(99 * 2000 + 1000, c.last[1].offset);
}

TEST_F(wal, uncommitted_records_are_not_recovered)
{
	struct collected c = { 0 };

	ASSERT_EQ(0, paste_wal_add(&self->w, 0, 100, false));
	ASSERT_EQ(1, paste_wal_commit(&self->w));
	ASSERT_EQ(0, paste_wal_add(&self->w, 100, 100, false));
	/* crash before commit */
	reopen(_metadata, self);
	EXPECT_EQ(1, paste_wal_recover(&self->w, collect, &c));
}

TEST_F(wal, torn_record_is_dropped)
{
	struct collected c = { 0 };

	ASSERT_EQ(0, paste_wal_add(&self->w, 0, 100, false));
	ASSERT_EQ(0, paste_wal_add(&self->w, 200, 100, true));
	ASSERT_EQ(0, paste_wal_add(&self->w, 300, 100, false));
	ASSERT_EQ(3, paste_wal_commit(&self->w));
	/* The last piece of the second record never reached the media. */
	self->w.entries[2] = 0;
	reopen(_metadata, self);
	EXPECT_EQ(1, paste_wal_recover(&self->w, collect, &c));
	EXPECT_EQ(1, self->w.tail);
}

TEST_F(wal, payload_not_persisted_stops_recovery)
{
	struct collected c = { 0 };

	ASSERT_EQ(0, paste_wal_add(&self->w, 0, 100, false));
	ASSERT_EQ(0, paste_wal_add(&self->w, 1000, 100, false));
	ASSERT_EQ(0, paste_wal_add(&self->w, 2000, 100, false));
	ASSERT_EQ(3, paste_wal_commit(&self->w));
	/* A missing flush: the second payload differs from what was logged. */
	self->data[1050] ^= 0x40;
	reopen(_metadata, self);
	EXPECT_EQ(1, paste_wal_recover(&self->w, collect, &c));
}

TEST_F(wal, reset_invalidates_old_entries)
{
	struct collected c = { 0 };
	int i;

	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, paste_wal_add(&self->w, i * 100, 100, false));
	ASSERT_EQ(10, paste_wal_commit(&self->w));
	ASSERT_EQ(0, paste_wal_reset(&self->w));
	ASSERT_EQ(0, paste_wal_add(&self->w, 5000, 10, false));
	ASSERT_EQ(1, paste_wal_commit(&self->w));
	reopen(_metadata, self);
	EXPECT_EQ(1, paste_wal_recover(&self->w, collect, &c));
	EXPECT_EQ(5000, c.last[0].offset);
}

TEST_F(wal, stale_entries_of_earlier_epochs_do_not_validate)
{
	struct collected c = { 0 };
	struct paste_wal_rec r = { .offset = 0, .len = 64 };
	int i;

	/* Simulate entries left over from epoch - 2 (same parity). */
	for (i = 1; i < 8; i++) {
		r.offset = i * 64;
		self->w.entries[i] = paste_wal_encode(&r, self->w.epoch - 2,
						      self->data + r.offset);
	}
	ASSERT_EQ(0, paste_wal_add(&self->w, 0, 64, false));
	ASSERT_EQ(1, paste_wal_commit(&self->w));
	reopen(_metadata, self);
	EXPECT_EQ(1, paste_wal_recover(&self->w, collect, &c));
}

TEST_F(wal, full_log_is_enospc)
{
	int i, err = 0;

	for (i = 0; i < 5000 && !err; i++) {
		err = paste_wal_add(&self->w, 0, 8, false);
		if (!err && self->w.nr_staged == PASTE_WAL_MAX_STAGED)
			paste_wal_commit(&self->w);
	}
	EXPECT_EQ(-ENOSPC, err);
	EXPECT_EQ(4096, self->w.tail + self->w.nr_staged);
}

TEST_HARNESS_MAIN
