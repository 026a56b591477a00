// SPDX-License-Identifier: MIT
/*
 * Host unit tests of libpaste's WAL: entry encoding, group commit,
 * recovery of the valid prefix, torn tails, stale epochs and checkpoints.
 * Runs on tmpfs with PASTE_MAP_ALLOW_NOSYNC; a model of the persistence
 * domain stands in for persist.c, so that crashes can be simulated.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "libpaste.h"

#define DATA_LEN	(1 << 20)
#define LINE		64

/*
 * The persistence domain of the log file's mapping, at cache-line
 * granularity: @media is what a crash leaves. paste_flush() takes a copy of
 * the lines it is given, paste_fence() makes those copies durable. Any
 * other line that differs from @media may or may not have been evicted to
 * the media, in any order, when the power fails. The data file (the test's
 * heap buffer) counts as durable: these tests are about the log.
 */
static struct {
	char *map;		/* the modelled mapping */
	size_t len;
	char *media;		/* its durable contents */
	char *wb;		/* lines written back, not yet fenced */
	bool *pending;
	void (*crash)(void *arg);	/* a crash point: before every fence */
	void *arg;
	bool busy;		/* in @crash: the model stands still */
} pm;

static void pm_attach(const struct paste_wal *w)
{
	struct stat st;

	/* What the file holds when it is opened is durable. */
	if (fstat(w->fd, &st))
		abort();
	free(pm.media);
	free(pm.wb);
	free(pm.pending);
	pm.map = (char *)w->hdr;
	pm.len = st.st_size;
	pm.media = malloc(pm.len);
	pm.wb = malloc(pm.len);
	pm.pending = calloc(pm.len / LINE, sizeof(bool));
	if (!pm.media || !pm.wb || !pm.pending)
		abort();
	memcpy(pm.media, pm.map, pm.len);
}

static void pm_detach(void)
{
	free(pm.media);
	free(pm.wb);
	free(pm.pending);
	memset(&pm, 0, sizeof(pm));
}

/* Power cut: only what reached the media stays. */
static void pm_power_cut(void)
{
	memcpy(pm.map, pm.media, pm.len);
}

const char *paste_flush_insn(void)
{
	return "model";
}

void paste_flush(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(LINE - 1);
	uintptr_t base = (uintptr_t)pm.map;

	if (pm.busy || !len)
		return;
	for (; a < (uintptr_t)p + len; a += LINE) {
		if (!pm.map || a < base || a >= base + pm.len)
			continue;
		memcpy(pm.wb + (a - base), (void *)a, LINE);
		pm.pending[(a - base) / LINE] = true;
	}
}

void paste_fence(void)
{
	size_t i;

	if (pm.busy || !pm.map)
		return;
	if (pm.crash) {
		pm.busy = true;
		pm.crash(pm.arg);
		pm.busy = false;
	}
	for (i = 0; i < pm.len / LINE; i++) {
		if (!pm.pending[i])
			continue;
		memcpy(pm.media + i * LINE, pm.wb + i * LINE, LINE);
		pm.pending[i] = false;
	}
}

void paste_persist(const void *p, size_t len)
{
	paste_flush(p, len);
	paste_fence();
}

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
	pm_attach(&self->w);
}

FIXTURE_TEARDOWN(wal)
{
	pm_detach();
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
	pm_attach(&self->w);
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

/* Write @len bytes of @byte as the file @path, replacing it. */
static int write_file(const char *path, size_t len, int byte)
{
	char buf[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t done;

	if (fd < 0)
		return -1;
	memset(buf, byte, sizeof(buf));
	for (done = 0; done < len; done += sizeof(buf))
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			break;
	close(fd);
	return done < len ? -1 : 0;
}

/*
 * A crash between allocating a new log and writing its header used to
 * leave a file of zeroes that every later open refused (EINVAL). Such a
 * log held nothing: it is created anew.
 */
TEST_F(wal, log_of_zeroes_is_created_anew)
{
	struct stat st;

	paste_wal_close(&self->w);
	ASSERT_EQ(0, stat(self->path, &st));
	ASSERT_EQ(0, write_file(self->path, st.st_size, 0));
	ASSERT_EQ(0, paste_wal_open(&self->w, self->path, 4096, self->data,
				    DATA_LEN, PASTE_MAP_ALLOW_NOSYNC));
	pm_attach(&self->w);
	EXPECT_EQ(0, paste_wal_recover(&self->w, NULL, NULL));
	EXPECT_EQ(0, paste_wal_add(&self->w, 0, 100, false));
	EXPECT_EQ(1, paste_wal_commit(&self->w));
	paste_wal_close(&self->w);
	/* An empty file, as a crash right after open(O_CREAT) left. */
	ASSERT_EQ(0, write_file(self->path, 0, 0));
	EXPECT_EQ(0, paste_wal_open(&self->w, self->path, 4096, self->data,
				    DATA_LEN, PASTE_MAP_ALLOW_NOSYNC));
	EXPECT_EQ(4096, self->w.capacity);
}

/* Without a header but with an entry, it held records: refused, kept. */
TEST_F(wal, log_without_header_but_with_entries_is_refused)
{
	struct stat st;
	char zero[64] = { 0 };
	int fd;

	ASSERT_EQ(0, paste_wal_add(&self->w, 0, 100, false));
	ASSERT_EQ(1, paste_wal_commit(&self->w));
	paste_wal_close(&self->w);
	fd = open(self->path, O_WRONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)sizeof(zero), pwrite(fd, zero, sizeof(zero), 0));
	close(fd);
	EXPECT_EQ(-EINVAL, paste_wal_open(&self->w, self->path, 4096, self->data,
					  DATA_LEN, PASTE_MAP_ALLOW_NOSYNC));
	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_LT(0, st.st_size);
}

/*
 * A new log appears under its name only whole: what an interrupted
 * creation left under the temporary name is replaced, and no temporary
 * file stays.
 */
TEST_F(wal, new_log_replaces_a_leftover_of_an_interrupted_creation)
{
	char tmp[160];

	paste_wal_close(&self->w);
	ASSERT_EQ(0, unlink(self->path));
	snprintf(tmp, sizeof(tmp), "%s.new", self->path);
	ASSERT_EQ(0, write_file(tmp, 4096, 'x'));
	ASSERT_EQ(0, paste_wal_open(&self->w, self->path, 1024, self->data,
				    DATA_LEN, PASTE_MAP_ALLOW_NOSYNC));
	EXPECT_EQ(1024, self->w.capacity);
	EXPECT_EQ(-1, access(tmp, F_OK));
}

/*
 * The log fills in the middle of a record: its first pieces must not stay
 * staged, or the next commit (a checkpoint's) writes them with "more" set
 * and the next record joins them at recovery.
 */
TEST_F(wal, record_that_fills_the_log_is_not_staged_in_part)
{
	struct collected c = { 0 };
	int err = 0;
	uint32_t i;

	for (i = 0; i < 4094; i++) {
		ASSERT_EQ(0, paste_wal_add(&self->w, 0, 8, false));
		if (self->w.nr_staged == PASTE_WAL_MAX_STAGED)
			ASSERT_EQ(PASTE_WAL_MAX_STAGED, paste_wal_commit(&self->w));
	}
	/* Two entries left: a three-piece record does not fit. */
	ASSERT_EQ(0, paste_wal_add(&self->w, 1000, 100, true));
	ASSERT_EQ(0, paste_wal_add(&self->w, 1100, 100, true));
	err = paste_wal_add(&self->w, 1200, 100, false);
	EXPECT_EQ(-ENOSPC, err);
	EXPECT_EQ(4094 % PASTE_WAL_MAX_STAGED, self->w.nr_staged);
	paste_wal_commit(&self->w);
	/* The next record, alone, fits and must stay a record of its own. */
	ASSERT_EQ(0, paste_wal_add(&self->w, 3000, 100, false));
	ASSERT_EQ(1, paste_wal_commit(&self->w));
	reopen(_metadata, self);
	EXPECT_EQ(4095, paste_wal_recover(&self->w, collect, &c));
	EXPECT_EQ(1, c.nlast);
	EXPECT_EQ(3000, c.last[0].offset);
}

/* A full batch is -EBUSY, not -ENOSPC: commit, then stage the record again. */
TEST_F(wal, full_batch_is_ebusy_and_unstages_the_record)
{
	uint32_t i;

	for (i = 0; i < PASTE_WAL_MAX_STAGED - 1; i++)
		ASSERT_EQ(0, paste_wal_add(&self->w, 0, 8, false));
	ASSERT_EQ(0, paste_wal_add(&self->w, 1000, 100, true));
	EXPECT_EQ(-EBUSY, paste_wal_add(&self->w, 1100, 100, false));
	EXPECT_EQ(PASTE_WAL_MAX_STAGED - 1, self->w.nr_staged);
	EXPECT_EQ(PASTE_WAL_MAX_STAGED - 1, paste_wal_commit(&self->w));
	EXPECT_EQ(0, paste_wal_add(&self->w, 1000, 100, true));
	EXPECT_EQ(0, paste_wal_add(&self->w, 1100, 100, false));
}

/* A commit between the pieces of a record writes only the complete ones. */
TEST_F(wal, commit_keeps_an_unfinished_record_staged)
{
	struct collected c = { 0 };

	ASSERT_EQ(0, paste_wal_add(&self->w, 0, 100, false));
	ASSERT_EQ(0, paste_wal_add(&self->w, 1000, 100, true));
	EXPECT_EQ(1, paste_wal_commit(&self->w));
	EXPECT_EQ(1, self->w.nr_staged);
	ASSERT_EQ(0, paste_wal_add(&self->w, 1100, 100, false));
	EXPECT_EQ(2, paste_wal_commit(&self->w));
	reopen(_metadata, self);
	EXPECT_EQ(2, paste_wal_recover(&self->w, collect, &c));
	EXPECT_EQ(2, c.nlast);
	EXPECT_EQ(1100, c.last[1].offset);
}

/* A record has at most PASTE_WAL_MAX_PIECES pieces; a longer one is none. */
TEST_F(wal, record_of_too_many_pieces_is_e2big)
{
	uint32_t i;

	ASSERT_EQ(0, paste_wal_add(&self->w, 0, 100, false));
	for (i = 0; i < PASTE_WAL_MAX_PIECES; i++)
		ASSERT_EQ(0, paste_wal_add(&self->w, 1000 + i * 10, 10, true));
	EXPECT_EQ(-E2BIG, paste_wal_add(&self->w, 5000, 10, false));
	EXPECT_EQ(1, self->w.nr_staged);
}

/*
 * Crash states of a reset: at every fence, the media plus any subset of the
 * lines that differ from it. Each must recover all the records committed
 * before the reset (the checkpoint holds them too) or none: a prefix would
 * replay old values over the checkpoint.
 */
struct crash_check {
	const char *path;	/* where crash images are written */
	const char *data;
	unsigned int all;	/* records before the reset */
	unsigned int states, bad;
	unsigned int bad_records, bad_dirty;
	unsigned long bad_mask;
};

static void check_crash_states(void *arg)
{
	struct crash_check *cc = arg;
	unsigned int dirty[16], nd = 0, k;
	unsigned long mask;
	char *img = malloc(pm.len);
	size_t i;

	if (!img)
		abort();
	for (i = 0; i < pm.len / LINE; i++)
		if (memcmp(pm.map + i * LINE, pm.media + i * LINE, LINE)) {
			if (nd == 16)
				abort();	/* keep the test small */
			dirty[nd++] = i;
		}
	for (mask = 0; mask < 1UL << nd; mask++) {
		struct collected c = { 0 };
		struct paste_wal w;
		int fd, ret;

		memcpy(img, pm.media, pm.len);
		for (k = 0; k < nd; k++)
			if (mask & 1UL << k)
				memcpy(img + dirty[k] * LINE, pm.map + dirty[k] * LINE,
				       LINE);
		fd = open(cc->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, img, pm.len) != (ssize_t)pm.len)
			abort();
		close(fd);
		if (paste_wal_open(&w, cc->path, 0, cc->data, DATA_LEN,
				   PASTE_MAP_ALLOW_NOSYNC))
			abort();
		ret = paste_wal_recover(&w, collect, &c);
		paste_wal_close(&w);
		cc->states++;
		if (ret != 0 && ret != (int)cc->all && !cc->bad++) {
			cc->bad_records = ret;
			cc->bad_dirty = nd;
			cc->bad_mask = mask;
		}
	}
	unlink(cc->path);
	free(img);
}

TEST_F(wal, reset_recovers_all_or_nothing_at_any_crash)
{
	char path[160];
	struct crash_check cc = { .path = path, .data = self->data, .all = 40 };
	int i;

	snprintf(path, sizeof(path), "%s/crash", self->dir);
	/* 40 one-entry records: five cache lines of entries. */
	for (i = 0; i < 40; i++) {
		ASSERT_EQ(0, paste_wal_add(&self->w, i * 100, 100, false));
	}
	ASSERT_EQ(40, paste_wal_commit(&self->w));
	pm.crash = check_crash_states;
	pm.arg = &cc;
	ASSERT_EQ(0, paste_wal_reset(&self->w));
	pm.crash = NULL;
	check_crash_states(&cc);
	EXPECT_EQ(0, cc.bad) TH_LOG("%u of %u crash states recovered a prefix, e.g. %u records with lines %#lx of %u evicted",
				    cc.bad, cc.states, cc.bad_records, cc.bad_mask,
				    cc.bad_dirty);
	EXPECT_LE(3, cc.states);
}

/*
 * A torn commit leaves a valid record past the recovered end. New entries
 * that reach it must not make it part of the log: a second crash would
 * replay the unacknowledged record over acknowledged ones.
 */
TEST_F(wal, stale_entries_after_the_end_are_cleared_durably)
{
	struct collected c = { 0 };

	ASSERT_EQ(0, paste_wal_add(&self->w, 0, 100, false));
	ASSERT_EQ(1, paste_wal_commit(&self->w));
	/* One batch: B in three pieces, then C. */
	ASSERT_EQ(0, paste_wal_add(&self->w, 1000, 100, true));
	ASSERT_EQ(0, paste_wal_add(&self->w, 1100, 100, true));
	ASSERT_EQ(0, paste_wal_add(&self->w, 1200, 100, false));
	ASSERT_EQ(0, paste_wal_add(&self->w, 2000, 100, false));
	ASSERT_EQ(4, paste_wal_commit(&self->w));
	/* B's last piece was lost; C made it: torn, never acknowledged. */
	self->w.entries[3] = 0;
	reopen(_metadata, self);
	EXPECT_EQ(1, paste_wal_recover(&self->w, collect, &c));
	EXPECT_EQ(1, self->w.tail);
	EXPECT_EQ(3, self->w.dropped);
	/* D, acknowledged, in exactly the entries B had. */
	ASSERT_EQ(0, paste_wal_add(&self->w, 3000, 100, true));
	ASSERT_EQ(0, paste_wal_add(&self->w, 3100, 100, true));
	ASSERT_EQ(0, paste_wal_add(&self->w, 3200, 100, false));
	ASSERT_EQ(3, paste_wal_commit(&self->w));
	pm_power_cut();
	reopen(_metadata, self);
	memset(&c, 0, sizeof(c));
	EXPECT_EQ(2, paste_wal_recover(&self->w, collect, &c));
	EXPECT_EQ(3, c.nlast);
	EXPECT_EQ(3000, c.last[0].offset);
	EXPECT_EQ(4, self->w.tail);
	EXPECT_EQ(0, self->w.dropped);
}

/* Keep what the media holds just before fence number @at. */
struct cut {
	unsigned int fences, at;
	char *image;
};

static void cut_before_fence(void *arg)
{
	struct cut *cut = arg;

	if (++cut->fences == cut->at)
		memcpy(cut->image, pm.media, pm.len);
}

/* A reset cut short before its zeroing is durable: recovery finishes it. */
TEST_F(wal, interrupted_reset_is_cleared_by_recovery)
{
	struct cut cut = { .at = 2, .image = malloc(pm.len) };
	struct collected c = { 0 };
	unsigned int i;

	ASSERT_NE(NULL, cut.image);
	for (i = 0; i < 40; i++) {
		ASSERT_EQ(0, paste_wal_add(&self->w, i * 100, 100, false));
	}
	ASSERT_EQ(40, paste_wal_commit(&self->w));
	pm.crash = cut_before_fence;
	pm.arg = &cut;
	ASSERT_EQ(0, paste_wal_reset(&self->w));
	pm.crash = NULL;
	ASSERT_EQ(2, cut.fences);
	memcpy(pm.map, cut.image, pm.len);
	free(cut.image);
	reopen(_metadata, self);
	EXPECT_EQ(0, paste_wal_recover(&self->w, collect, &c));
	EXPECT_EQ(40, self->w.dropped);
	/* Cleared durably. */
	pm_power_cut();
	for (i = 0; i < 40; i++) {
		EXPECT_EQ(0, self->w.entries[i]);
	}
}

/* Commit @n one-entry records in batches; the last batch is @last long. */
static void commit_records(struct __test_metadata *_metadata,
			   FIXTURE_DATA(wal) *self, int n, int last)
{
	int i;

	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, paste_wal_add(&self->w, i * 64 % (DATA_LEN - 64),
					   64, false));
		if (i + 1 == n - last || i + 1 == n ||
		    self->w.nr_staged == PASTE_WAL_MAX_STAGED)
			paste_wal_commit(&self->w);
	}
}

TEST_F(wal, valid_entries_far_past_the_end_are_corruption)
{
	struct collected c = { 0 };

	commit_records(_metadata, self, 3000, 100);
	/* An entry in the middle is lost: not a torn commit. */
	self->w.entries[10] = 0;
	reopen(_metadata, self);
	EXPECT_EQ(-EUCLEAN, paste_wal_recover(&self->w, collect, &c));
	EXPECT_EQ(0, c.records);
	/* Nothing was cleared. */
	EXPECT_NE(0, self->w.entries[2999]);
}

TEST_F(wal, torn_last_batch_is_dropped_and_counted)
{
	struct collected c = { 0 };

	commit_records(_metadata, self, 3000, 1000);
	/* Within the last batch of 1000: a torn commit. */
	self->w.entries[2050] = 0;
	reopen(_metadata, self);
	EXPECT_EQ(2050, paste_wal_recover(&self->w, collect, &c));
	EXPECT_EQ(2050, self->w.tail);
	EXPECT_EQ(949, self->w.dropped);
	EXPECT_EQ(0, self->w.entries[2999]);
}

/*
 * One process owns a region: a second server started on the same file (two
 * Redis servers sharing a directory) would replay and append the same log.
 */
TEST(region_of_another_process_is_ebusy)
{
	char dir[] = "/dev/shm/region-test-XXXXXX", path[64];
	struct paste_region owner, second;
	int status;
	pid_t pid;

	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/region", dir);
	ASSERT_EQ(0, paste_region_create(&owner, path, 1 << 16,
					 PASTE_MAP_ALLOW_NOSYNC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int open_err = paste_region_open(&second, path,
						 PASTE_MAP_ALLOW_NOSYNC);
		int create_err = paste_region_create(&second, path, 1 << 16,
						     PASTE_MAP_ALLOW_NOSYNC);

		_exit(open_err == -EBUSY && create_err == -EBUSY ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("a second process opened or replaced an owned region");
	paste_region_close(&owner);
	ASSERT_EQ(0, paste_region_open(&second, path, PASTE_MAP_ALLOW_NOSYNC))
		TH_LOG("the region stayed locked after its owner closed it");
	paste_region_close(&second);
	unlink(path);
	rmdir(dir);
}

TEST_HARNESS_MAIN
