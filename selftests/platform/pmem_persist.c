// SPDX-License-Identifier: GPL-2.0
/*
 * Data written through a MAP_SYNC mapping and flushed with clwb + sfence is
 * there after the VM reboots on the same pmem image.
 *
 *   pmem_persist write    (boot 1) store a pattern derived from the run's
 *                         nonce (paste.nonce= on the command line), flush
 *   pmem_persist verify   (boot 2) find exactly that pattern again
 */
#include "kselftest_harness.h"
#include "paste_util.h"

#define PERSIST_FILE	PMEM_DIR "/persist-test"
#define PERSIST_LEN	(4 << 20)

struct persist_hdr {
	char magic[8];
	char nonce[32];
	char boot_id[40];
};

static uint64_t pattern(uint64_t seed, uint64_t i)
{
	uint64_t x = seed ^ (i * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return x ^ (x >> 29);
}

static void read_boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, len, f))
			buf[0] = '\0';
		fclose(f);
	}
}

FIXTURE(persist) {
	char nonce[32];
	uint64_t seed;
};

FIXTURE_SETUP(persist)
{
	ASSERT_NE(NULL, cmdline_arg("nonce", self->nonce, sizeof(self->nonce)))
		TH_LOG("no paste.nonce= on the kernel command line");
	self->seed = strtoull(self->nonce, NULL, 16);
}

FIXTURE_TEARDOWN(persist)
{
}

TEST_F(persist, write_and_flush)
{
	struct persist_hdr *h;
	uint64_t *data, i;
	int fd;

	if (strcmp(getenv("PERSIST_PHASE") ?: "", "write"))
		SKIP(return, "not the write phase");
	fd = pmem_file_create(PERSIST_FILE, PERSIST_LEN);
	ASSERT_LE(0, fd);
	h = pmem_map_sync(fd, PERSIST_LEN, 0);
	ASSERT_NE(MAP_FAILED, h);
	data = (uint64_t *)(h + 1);
	for (i = 0; i < (PERSIST_LEN - sizeof(*h)) / 8; i++)
		data[i] = pattern(self->seed, i);
	pmem_persist(data, PERSIST_LEN - sizeof(*h));
	/* The header last: it says the data is complete. */
	read_boot_id(h->boot_id, sizeof(h->boot_id));
	memcpy(h->nonce, self->nonce, sizeof(h->nonce));
	memcpy(h->magic, "PERSIST", 8);
	pmem_persist(h, sizeof(*h));
	munmap(h, PERSIST_LEN);
	close(fd);
}

TEST_F(persist, present_after_reboot)
{
	char boot_id[40];
	struct persist_hdr *h;
	uint64_t *data, i, bad = 0;
	int fd;

	if (strcmp(getenv("PERSIST_PHASE") ?: "", "verify"))
		SKIP(return, "not the verify phase");
	fd = open(PERSIST_FILE, O_RDWR);
	ASSERT_LE(0, fd) TH_LOG("%s missing after reboot", PERSIST_FILE);
	h = pmem_map_sync(fd, PERSIST_LEN, 0);
	ASSERT_NE(MAP_FAILED, h);
	ASSERT_EQ(0, memcmp(h->magic, "PERSIST", 8));
	ASSERT_EQ(0, memcmp(h->nonce, self->nonce, sizeof(h->nonce)))
		TH_LOG("file is from another run");
	read_boot_id(boot_id, sizeof(boot_id));
	EXPECT_NE(0, strcmp(boot_id, h->boot_id))
		TH_LOG("written in this boot, so it proves nothing");
	data = (uint64_t *)(h + 1);
	for (i = 0; i < (PERSIST_LEN - sizeof(*h)) / 8; i++)
		bad += data[i] != pattern(self->seed, i);
	EXPECT_EQ(0, bad) TH_LOG("%llu words differ", (unsigned long long)bad);
	munmap(h, PERSIST_LEN);
	close(fd);
	unlink(PERSIST_FILE);
}

TEST_HARNESS_MAIN
