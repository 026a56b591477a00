// SPDX-License-Identifier: GPL-2.0
/*
 * The VM the PASTE selftests run in: our patched kernel, an fsdax pmem
 * device with ext4 mounted -o dax=always, and working MAP_SYNC and clwb.
 */
#include <cpuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <netinet/in.h>
#include <linux/paste.h>

#include "kselftest_harness.h"
#include "paste_util.h"

static int file_contains(const char *cmd, const char *needle)
{
	char line[512];
	int found = 0;
	FILE *f = popen(cmd, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			found = 1;
	pclose(f);
	return found;
}

TEST(kernel_is_paste_build)
{
	struct utsname u;

	ASSERT_EQ(0, uname(&u));
	EXPECT_NE(NULL, strstr(u.release, "-paste"))
		TH_LOG("release %s lacks the -paste local version", u.release);
	EXPECT_EQ(1, file_contains("zcat /proc/config.gz", "CONFIG_PASTE=y"))
		TH_LOG("/proc/config.gz has no CONFIG_PASTE=y");
	EXPECT_EQ(0, access("/proc/net/paste", R_OK))
		TH_LOG("/proc/net/paste missing: %s", strerror(errno));
}

TEST(so_paste_region_is_known)
{
	struct paste_sock_info info;
	socklen_t len = sizeof(info);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_LE(0, fd);
	/* Unknown options give ENOPROTOOPT; ours says "no region attached". */
	EXPECT_EQ(-1, getsockopt(fd, SOL_SOCKET, SO_PASTE_REGION, &info, &len));
	EXPECT_EQ(ENOENT, errno);
	close(fd);
}

TEST(pmem0_is_fsdax)
{
	char mode[32] = "";
	FILE *f = fopen("/sys/bus/nd/devices/namespace0.0/mode", "r");
	struct stat st;

	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(mode, sizeof(mode), f));
	fclose(f);
	/* The kernel calls fsdax "memory". */
	EXPECT_STREQ("memory\n", mode);
	ASSERT_EQ(0, stat("/dev/pmem0", &st));
	EXPECT_TRUE(S_ISBLK(st.st_mode));
	EXPECT_EQ(1, file_contains("cat /proc/mounts", "/dev/pmem0 /mnt/pmem ext4"));
	EXPECT_EQ(1, file_contains("cat /proc/mounts", "dax=always"));
}

TEST(file_on_pmem_reports_dax)
{
	const char *path = PMEM_DIR "/statx-dax";
	struct statx stx;
	int fd = pmem_file_create(path, 4096);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx));
	EXPECT_TRUE(stx.stx_attributes_mask & STATX_ATTR_DAX);
	EXPECT_TRUE(stx.stx_attributes & STATX_ATTR_DAX)
		TH_LOG("%s is not DAX", path);
	close(fd);
	unlink(path);
}

TEST(file_on_tmpfs_is_not_dax)
{
	struct statx stx;
	int fd = pmem_file_create("/dev/shm/statx-nodax", 4096);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx));
	EXPECT_FALSE(stx.stx_attributes & STATX_ATTR_DAX);
	close(fd);
	unlink("/dev/shm/statx-nodax");
}

TEST(map_sync_on_pmem)
{
	const char *path = PMEM_DIR "/map-sync";
	int fd = pmem_file_create(path, 1 << 20);
	char *p;

	ASSERT_LE(0, fd);
	p = pmem_map_sync(fd, 1 << 20, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("MAP_SYNC: %s", strerror(errno));
	memset(p, 0xa5, 1 << 20);
	pmem_persist(p, 1 << 20);
	EXPECT_EQ((char)0xa5, p[(1 << 20) - 1]);
	munmap(p, 1 << 20);
	close(fd);
	unlink(path);
}

TEST(map_sync_refused_on_tmpfs)
{
	int fd = pmem_file_create("/dev/shm/map-sync", 4096);

	ASSERT_LE(0, fd);
	EXPECT_EQ(MAP_FAILED, pmem_map_sync(fd, 4096, 0));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(fd);
	unlink("/dev/shm/map-sync");
}

TEST(cpu_has_clwb)
{
	unsigned int a, b, c, d;

	ASSERT_TRUE(__get_cpuid_count(7, 0, &a, &b, &c, &d));
	EXPECT_TRUE(b & (1U << 24)) TH_LOG("no clwb in CPUID.7.0:EBX");
	EXPECT_TRUE(b & (1U << 23)) TH_LOG("no clflushopt in CPUID.7.0:EBX");
}

TEST_HARNESS_MAIN
