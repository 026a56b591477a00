// SPDX-License-Identifier: GPL-2.0
/*
 * Lifecycle: a process that exits holding a region, buffers and pins leaves
 * nothing behind: no region, no outstanding references, no layout lock.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

static int child_holds_everything(void)
{
	struct sockaddr_storage ss;
	struct paste_ref refs[8];
	struct region r;
	socklen_t sslen;
	unsigned int n;
	int lsn, cli, srv;
	static char buf[20000];

	if (region_open(&r, "lifecycle", 1 << 20, false))
		return 1;
	lsn = tcp_listener(AF_INET, &ss, &sslen);
	if (lsn < 0 || region_attach(lsn, &r, 0) ||
	    tcp_pair(lsn, &ss, sslen, &cli, &srv))
		return 2;
	if (send_all(cli, buf, sizeof(buf)) || wait_inq(srv, sizeof(buf)) < 0)
		return 3;
	if (paste_recv(srv, refs, 8, &n, 0) <= 0 || n < 2)
		return 4;
	if (paste_ioc(srv, PASTE_IOC_PIN, refs, 1) != 1)
		return 5;
	/* More data left unread in the queue, then exit without cleanup. */
	if (send_all(cli, buf, 100))
		return 6;
	return 0;
}

TEST(process_exit_leaves_nothing_behind)
{
	long long refs_before = proc_paste_counter("PasteRefsOutstanding");
	struct stat st;
	int status, i, fd;
	pid_t pid;

	ASSERT_LE(0, refs_before);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_holds_everything());
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("child step %d failed",
						 WEXITSTATUS(status));

	/* region_close() did not run in the child: the file is still there. */
	fd = open(PMEM_DIR "/lifecycle", O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fstat(fd, &st));
	for (i = 0; i < 300 && proc_paste_regions_of(st.st_ino) != 0; i++)
		usleep(10000);
	EXPECT_EQ(0, proc_paste_regions_of(st.st_ino));
	EXPECT_EQ(refs_before, proc_paste_counter("PasteRefsOutstanding"));
	/* No layout lock is left either. */
	EXPECT_EQ(0, ftruncate(fd, 0));
	close(fd);
	unlink(PMEM_DIR "/lifecycle");
}

TEST_HARNESS_MAIN
