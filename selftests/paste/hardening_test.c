// SPDX-License-Identifier: GPL-2.0
/*
 * Defects a review found in region lifetime and accounting, each a test
 * that failed before its fix:
 *  - attaching to a region whose last socket is going away must not take
 *    a reference to a dying region (use after free);
 *  - pinned pages count against RLIMIT_MEMLOCK and show in VmPin;
 *  - an attach that fails after claiming owned buffers gives them back;
 *  - a closed socket that lingers in FIN_WAIT holds no region;
 *  - contradictory flags are refused;
 *  - a flush of a huge range lets other tasks on its CPU run;
 *  - an accepted socket whose PASTE state cannot be allocated is dropped,
 *    never accepted without the listener's region.
 * The races use /sys/kernel/debug/paste/attach_delay_ms (CONFIG_PASTE_DEBUG)
 * to widen a window that is otherwise a few instructions wide, and
 * inherit_fail to fail an allocation in softirq context.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define DELAY_KNOB	"/sys/kernel/debug/paste/attach_delay_ms"
#define INHERIT_FAIL_KNOB "/sys/kernel/debug/paste/inherit_fail"
#define REGION_LEN	(64 << 10)

static int write_knob(const char *knob, unsigned int v)
{
	FILE *f = fopen(knob, "w");
	int err;

	if (!f)
		return -1;
	err = fprintf(f, "%u\n", v) < 0;
	return fclose(f) || err ? -1 : 0;
}

static int set_delay(unsigned int ms)
{
	return write_knob(DELAY_KNOB, ms);
}

static long read_knob(const char *knob)
{
	FILE *f = fopen(knob, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Field @name (e.g. "VmPin:") of /proc/self/status in kB, or -1. */
static long status_kb(const char *name)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, strlen(name)))
			v = strtol(line + strlen(name), NULL, 10);
	fclose(f);
	return v;
}

static unsigned long ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

static int wait_regions(unsigned long ino, int want)
{
	int i, n = -1;

	for (i = 0; i < 500; i++) {
		n = proc_paste_regions_of(ino);
		if (n == want)
			break;
		usleep(10000);
	}
	return n;
}

struct attach_arg {
	int sock;
	struct paste_region_req req;
	int ret, err;
};

static void *attach_thread(void *p)
{
	struct attach_arg *a = p;

	a->ret = region_attach_req(a->sock, &a->req);
	a->err = errno;
	return NULL;
}

/*
 * Socket A holds the only reference. B's attach finds the region, and
 * while it waits in the window A is closed: the reference drops to zero
 * and the teardown is queued. B must not revive the dying region; it gets
 * a region of its own.
 */
TEST(attach_while_last_socket_closes)
{
	struct paste_sock_info info;
	struct attach_arg b = { 0 };
	struct region r;
	pthread_t t;
	int a;

	if (access(DELAY_KNOB, W_OK))
		SKIP(return, "no %s (CONFIG_PASTE_DEBUG)", DELAY_KNOB);
	ASSERT_EQ(0, region_open(&r, "hard-race", REGION_LEN, false));
	a = socket(AF_INET, SOCK_STREAM, 0);
	b.sock = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b.sock);
	ASSERT_EQ(0, region_attach(a, &r, 0));
	b.req = region_req(&r, 0);

	ASSERT_EQ(0, set_delay(400));
	ASSERT_EQ(0, pthread_create(&t, NULL, attach_thread, &b));
	usleep(100000);
	close(a);
	pthread_join(t, NULL);
	ASSERT_EQ(0, set_delay(0));

	ASSERT_EQ(0, b.ret) TH_LOG("attach: %s", strerror(b.err));
	/* The dying region goes; B's stays, with B's reference. */
	EXPECT_EQ(1, wait_regions(ino_of(r.fd), 1));
	ASSERT_EQ(0, paste_info(b.sock, &info));
	EXPECT_EQ(REGION_LEN / 4096, info.slots_free);
	close(b.sock);
	EXPECT_EQ(0, wait_regions(ino_of(r.fd), 0));
	region_close(&r);
}

/*
 * B attaches to a region A shares and claims two buffers as owned. While
 * B's attach is in the window, B's socket leaves the states that accept a
 * region (shutdown(SHUT_WR): FIN_WAIT). The attach fails with EOPNOTSUPP
 * and the claimed buffers must be free again, not pinned forever.
 */
TEST(failed_attach_gives_back_owned_buffers)
{
	struct paste_range owned[2] = {
		{ .offset = 0, .length = 4096 },
		{ .offset = 8192, .length = 100 },
	};
	struct attach_arg b = { 0 };
	struct paste_sock_info info;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct region r;
	int a, lsn, srv;
	pthread_t t;

	if (access(DELAY_KNOB, W_OK))
		SKIP(return, "no %s (CONFIG_PASTE_DEBUG)", DELAY_KNOB);
	ASSERT_EQ(0, region_open(&r, "hard-owned", REGION_LEN, false));
	a = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, a);
	ASSERT_EQ(0, region_attach(a, &r, 0));
	lsn = tcp_listener(AF_INET, &ss, &sslen);
	ASSERT_LE(0, lsn);
	b.sock = tcp_connect(&ss, sslen);
	ASSERT_LE(0, b.sock);
	srv = accept(lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	b.req = region_req(&r, 0);
	b.req.nr_owned = 2;
	b.req.owned = (uintptr_t)owned;

	ASSERT_EQ(0, set_delay(400));
	ASSERT_EQ(0, pthread_create(&t, NULL, attach_thread, &b));
	usleep(100000);
	ASSERT_EQ(0, shutdown(b.sock, SHUT_WR));
	pthread_join(t, NULL);
	ASSERT_EQ(0, set_delay(0));

	EXPECT_EQ(-1, b.ret);
	EXPECT_EQ(EOPNOTSUPP, b.err);
	ASSERT_EQ(0, paste_info(a, &info));
	EXPECT_EQ(0, info.slots_pinned);
	EXPECT_EQ(REGION_LEN / 4096, info.slots_free);
	close(srv);
	close(b.sock);
	close(lsn);
	close(a);
	EXPECT_EQ(0, wait_regions(ino_of(r.fd), 0));
	region_close(&r);
}

/* A user without CAP_IPC_LOCK: RLIMIT_MEMLOCK bounds what it may pin. */
static int memlock_child(int fd, char *map)
{
	struct rlimit rl = { 64 << 10, 64 << 10 };
	struct paste_region_req req = {
		.fd = fd, .flags = PASTE_REGION_VOLATILE,
		.offset = 0, .addr = (uintptr_t)map,
	};
	int s1, s2, s3;
	long pin0;

	if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgid(65534) || setuid(65534))
		return 10;
	s1 = socket(AF_INET, SOCK_STREAM, 0);
	s2 = socket(AF_INET, SOCK_STREAM, 0);
	s3 = socket(AF_INET, SOCK_STREAM, 0);
	if (s1 < 0 || s2 < 0 || s3 < 0)
		return 11;

	/* 256 KiB is over the 64 KiB limit. */
	req.length = 256 << 10;
	if (!region_attach_req(s1, &req) || errno != ENOMEM)
		return 1;
	/* 32 KiB fits, is charged, and shows in VmPin. */
	pin0 = status_kb("VmPin:");
	req.length = 32 << 10;
	if (region_attach_req(s1, &req))
		return 2;
	if (status_kb("VmPin:") != pin0 + 32)
		return 3;
	/* Another 48 KiB region would make 80 KiB. */
	req.offset = 1 << 20;
	req.addr = (uintptr_t)map + (1 << 20);
	req.length = 48 << 10;
	if (!region_attach_req(s2, &req) || errno != ENOMEM)
		return 4;
	/* Sharing the first region pins nothing more. */
	req.offset = 0;
	req.addr = (uintptr_t)map;
	req.length = 32 << 10;
	if (region_attach_req(s3, &req))
		return 5;
	/* Once the first region is gone, its charge is returned. */
	close(s1);
	close(s3);
	req.offset = 1 << 20;
	req.addr = (uintptr_t)map + (1 << 20);
	req.length = 48 << 10;
	for (int i = 0; i < 300; i++) {
		if (!region_attach_req(s2, &req))
			return status_kb("VmPin:") == pin0 + 48 ? 0 : 7;
		usleep(10000);
	}
	return 6;
}

TEST(memlock_limit_bounds_pinning)
{
	int fd, status;
	char *map;
	pid_t pid;

	fd = memfd_create("hard-memlock", 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 2 << 20));
	map = mmap(NULL, 2 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(memlock_child(fd, map));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("step %d failed (1: over the limit accepted, 3/7: VmPin wrong)",
		       WEXITSTATUS(status));
	munmap(map, 2 << 20);
	close(fd);
}

/*
 * The server closes its end while the client keeps its own open. With a
 * FIN_WAIT2 timeout above the TIME_WAIT length (TCP_LINGER2) TCP keeps the
 * closed socket itself, orphaned, for up to two minutes. It must not keep
 * the region (and its pins) for that long.
 */
TEST(orphaned_socket_holds_no_region)
{
	struct sockaddr_storage ss;
	struct paste_ref refs[4];
	socklen_t sslen;
	struct region r;
	int lsn, cli, srv, linger2 = 120;
	unsigned int n;

	ASSERT_EQ(0, region_open(&r, "hard-orphan", REGION_LEN, false));
	lsn = tcp_listener(AF_INET, &ss, &sslen);
	ASSERT_LE(0, lsn);
	ASSERT_EQ(0, region_attach(lsn, &r, 0));
	ASSERT_EQ(0, tcp_pair(lsn, &ss, sslen, &cli, &srv));
	ASSERT_EQ(0, send_all(cli, "hello", 5));
	ASSERT_EQ(5, wait_inq(srv, 5));
	ASSERT_EQ(5, paste_recv(srv, refs, 4, &n, 0));
	ASSERT_EQ(0, setsockopt(srv, IPPROTO_TCP, TCP_LINGER2, &linger2,
				sizeof(linger2)));
	close(lsn);
	close(srv);
	EXPECT_EQ(0, wait_regions(ino_of(r.fd), 0))
		TH_LOG("the orphaned socket still holds the region");
	close(cli);
	region_close(&r);
}

TEST(contradictory_flags_refused)
{
	struct region r;
	int s;

	ASSERT_EQ(0, region_open(&r, "hard-flags", REGION_LEN, false));
	s = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, s);
	/* VOLATILE and DURABLE contradict each other. */
	EXPECT_EQ(-1, region_attach(s, &r, PASTE_REGION_VOLATILE |
					   PASTE_REGION_DURABLE));
	EXPECT_EQ(EINVAL, errno);
	/* A DAX file is never volatile. */
	EXPECT_EQ(-1, region_attach(s, &r, PASTE_REGION_VOLATILE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, region_attach(s, &r, 0));
	close(s);
	region_close(&r);
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

struct sleeper {
	volatile bool stop;
	long long max_gap_us;
};

/* Sleep 1 ms at a time; note the longest time between two wakeups. */
static void *sleeper_thread(void *p)
{
	struct sleeper *sl = p;
	long long last = now_us(), t;

	while (!sl->stop) {
		usleep(1000);
		t = now_us();
		if (t - last > sl->max_gap_us)
			sl->max_gap_us = t - last;
		last = t;
	}
	return NULL;
}

/* FLUSH @n entries of the whole region: the time it took in us, or -1. */
static long long flush_region(int sock, unsigned int len, unsigned int n)
{
	struct paste_ref refs[1024];
	long long t0 = now_us();
	unsigned int i;

	for (i = 0; i < n; i++)
		refs[i] = (struct paste_ref){ .offset = 0, .len = len };
	if (paste_ioc(sock, PASTE_IOC_FLUSH, refs, n) != (int)n)
		return -1;
	return now_us() - t0;
}

/*
 * One SIOCPASTE may write back 1024 ranges of a whole region: seconds of
 * work in the kernel. A task sharing the CPU must still get it within a
 * fraction of that (the kernel here does not preempt: only scheduling
 * points in the loop let it run).
 */
#define FLUSH_LEN	(16 << 20)
TEST(flush_of_huge_ranges_yields_the_cpu)
{
	struct sleeper sl = { 0 };
	long long took = 0;
	unsigned int n;
	struct region r;
	cpu_set_t cpus;
	pthread_t t;
	int s;

	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpus), &cpus));
	ASSERT_EQ(0, region_open(&r, "hard-flush", FLUSH_LEN, false));
	s = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, region_attach(s, &r, 0));
	/* Enough ranges for half a second of writing back, at least. */
	for (n = 1; n <= 1024; n *= 2) {
		took = flush_region(s, FLUSH_LEN, n);
		ASSERT_LE(0, took) TH_LOG("FLUSH: %s", strerror(errno));
		if (took >= 500000)
			break;
	}
	ASSERT_LE(500000, took) TH_LOG("1024 flushes of 16 MiB took only %lld us", took);

	ASSERT_EQ(0, pthread_create(&t, NULL, sleeper_thread, &sl));
	usleep(50000);
	sl.max_gap_us = 0;
	took = flush_region(s, FLUSH_LEN, n);
	sl.stop = true;
	pthread_join(t, NULL);
	ASSERT_LE(0, took);
	EXPECT_GT(took / 4, sl.max_gap_us)
		TH_LOG("a task on the same CPU waited %lld us of the flush's %lld us",
		       sl.max_gap_us, took);
	close(s);
	region_close(&r);
}

/*
 * The child of a listener with a region gets its own PASTE state from an
 * allocation in softirq context. If that fails, the child must not be
 * accepted without the region: the handshake's ACK is dropped (counted as
 * a listen drop) and the client's next segment completes it, with the
 * region, and nothing the client sent is lost.
 */
FIXTURE(inherit) {};
FIXTURE_VARIANT(inherit) { int family; };
FIXTURE_VARIANT_ADD(inherit, ipv4) { .family = AF_INET };
FIXTURE_VARIANT_ADD(inherit, ipv6) { .family = AF_INET6 };
FIXTURE_SETUP(inherit) {}
FIXTURE_TEARDOWN(inherit)
{
	write_knob(INHERIT_FAIL_KNOB, 0);
}

TEST_F(inherit, failed_inheritance_drops_the_child_and_the_retry_gets_the_region)
{
	struct paste_ref refs[4];
	struct paste_sock_info info;
	struct sockaddr_storage ss;
	struct pollfd pfd;
	long long drops0;
	socklen_t sslen;
	struct region r;
	int lsn, cli, srv;
	unsigned int n;

	ASSERT_EQ(0, region_open(&r, "hard-inherit", REGION_LEN, false));
	lsn = tcp_listener(variant->family, &ss, &sslen);
	ASSERT_LE(0, lsn);
	ASSERT_EQ(0, region_attach(lsn, &r, 0));
	drops0 = tcpext_counter("ListenDrops");
	ASSERT_LE(0, drops0);
	ASSERT_EQ(0, write_knob(INHERIT_FAIL_KNOB, 1))
		TH_LOG("no %s: CONFIG_PASTE_DEBUG?", INHERIT_FAIL_KNOB);

	cli = tcp_connect(&ss, sslen);
	ASSERT_LE(0, cli);
	/* The first child failed: nothing to accept yet. */
	pfd = (struct pollfd){ .fd = lsn, .events = POLLIN };
	EXPECT_EQ(0, poll(&pfd, 1, 200));
	EXPECT_EQ(0, read_knob(INHERIT_FAIL_KNOB));
	EXPECT_LT(drops0, tcpext_counter("ListenDrops"));

	ASSERT_EQ(0, send_all(cli, "hello", 5));
	pfd = (struct pollfd){ .fd = lsn, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 10000)) TH_LOG("the retry made no child");
	srv = accept(lsn, NULL, NULL);
	ASSERT_LE(0, srv);
	EXPECT_EQ(0, paste_info(srv, &info))
		TH_LOG("accepted without the region: %s", strerror(errno));
	ASSERT_EQ(5, wait_inq(srv, 5));
	ASSERT_EQ(5, paste_recv(srv, refs, 4, &n, 0));
	ASSERT_EQ(1, n);
	EXPECT_EQ(0, memcmp(r.map + refs[0].offset, "hello", 5));

	close(srv);
	close(cli);
	close(lsn);
	region_close(&r);
}

TEST_HARNESS_MAIN
