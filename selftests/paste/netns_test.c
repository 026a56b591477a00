// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/paste belongs to its network namespace: the counters count the
 * namespace's sockets (and devices), and the region list shows the regions
 * its sockets created. Another namespace sees neither, and another user
 * without CAP_NET_ADMIN not the regions.
 */
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define REGION_LEN	(64 << 10)

static unsigned long ino_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* Send @len bytes over a new loopback pair whose server has region @r. */
static int place_bytes(const struct region *r, size_t len)
{
	struct paste_ref refs[64];
	struct sockaddr_storage ss;
	socklen_t sslen;
	char buf[4096] = { 'x' };
	int lsn, cli, srv, err = -1;
	unsigned int n;
	ssize_t got;
	size_t done = 0;

	if (len > sizeof(buf))
		return -1;
	lsn = tcp_listener(AF_INET, &ss, &sslen);
	if (lsn < 0 || region_attach(lsn, r, 0) ||
	    tcp_pair(lsn, &ss, sslen, &cli, &srv))
		return -1;
	if (send_all(cli, buf, len) || wait_inq(srv, len) != (int)len)
		goto out;
	while (done < len) {
		got = paste_recv(srv, refs, 64, &n, MSG_DONTWAIT);
		if (got <= 0)
			goto out;
		done += got;
		if (paste_ioc(srv, PASTE_IOC_RELEASE, refs, n) != (int)n)
			goto out;
	}
	err = 0;
out:
	close(cli);
	close(srv);
	close(lsn);
	return err;
}

/*
 * In a new namespace: nothing of the parent's shows; this namespace's
 * own bytes and region do. Returns the number of the failed step, or 0.
 */
static int child_in_new_netns(unsigned long parent_ino)
{
	struct region r;

	if (unshare(CLONE_NEWNET) || sh("/sbin/ip link set lo up"))
		return 10;
	if (proc_paste_counter("PasteBytesPlaced") != 0)
		return 1;
	if (proc_paste_regions_of(parent_ino) != 0)
		return 2;
	if (region_open(&r, "netns-child", REGION_LEN, false))
		return 11;
	if (place_bytes(&r, 3000))
		return 12;
	if (proc_paste_counter("PasteBytesPlaced") != 3000)
		return 3;
	if (proc_paste_counter("PasteRefsOutstanding") != 0)
		return 4;
	region_close(&r);
	return 0;
}

TEST(namespace_sees_only_its_own)
{
	long long before, after;
	struct region r;
	int status;
	pid_t pid;

	ASSERT_EQ(0, region_open(&r, "netns-parent", REGION_LEN, false));
	/* The parent's namespace has counted bytes, and has a region. */
	ASSERT_EQ(0, place_bytes(&r, 1000));
	before = proc_paste_counter("PasteBytesPlaced");
	ASSERT_LE(1000, before);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_in_new_netns(ino_of(r.fd)));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("step %d failed: 1 the parent's counters showed, %s",
		       WEXITSTATUS(status),
		       "2 its region showed, 3/4 the namespace's own bytes miscounted");

	/* And the child's 3000 bytes are not the parent's namespace's. */
	after = proc_paste_counter("PasteBytesPlaced");
	EXPECT_EQ(before, after);
	region_close(&r);
}

/*
 * A region created in one namespace is shared from another, not created
 * twice over the same pages (which would hand out the same buffers twice).
 */
TEST(region_shared_across_namespaces)
{
	struct region r;
	int s, status;
	pid_t pid;

	ASSERT_EQ(0, region_open(&r, "netns-shared", REGION_LEN, false));
	s = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, region_attach(s, &r, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int c;

		if (unshare(CLONE_NEWNET))
			_exit(10);
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (region_attach(c, &r, 0))
			_exit(1);
		/* Shared: the region is the parent namespace's, not listed here. */
		_exit(proc_paste_regions_of(ino_of(r.fd)) == 0 ? 0 : 2);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("1: attach failed, 2: a second region was created");
	EXPECT_EQ(1, proc_paste_regions_of(ino_of(r.fd)));
	close(s);
	region_close(&r);
}

/*
 * Within a namespace, a region is listed to the user that created it and
 * to CAP_NET_ADMIN only: its file and geometry are another server's.
 */
TEST(other_users_do_not_see_a_region)
{
	struct region r;
	int s, status;
	pid_t pid;

	ASSERT_EQ(0, region_open(&r, "netns-private", REGION_LEN, false));
	s = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, region_attach(s, &r, 0));
	EXPECT_EQ(1, proc_paste_regions_of(ino_of(r.fd)));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(10);
		_exit(proc_paste_regions_of(ino_of(r.fd)) == 0 ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("1: another user saw root's region, 10: setuid failed");
	close(s);
	region_close(&r);
}

TEST_HARNESS_MAIN
