// SPDX-License-Identifier: GPL-2.0
/*
 * A region re-attached after a reboot hands out no buffer that the WAL
 * still references. Uses libpaste's region and WAL, as a server would.
 *
 *   reattach_test -t log_before_reboot   (boot 1) receive a stream into a
 *                   region, log every other buffer in the WAL, commit
 *   reattach_test -t reattach_after_reboot (boot 2) recover the WAL,
 *                   re-attach with the logged ranges as owned, receive
 *                   until the region is exhausted: no reference may touch
 *                   a logged buffer, every other buffer must be handed
 *                   out, and the log must still recover intact
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "paste_util.h"
#include "libpaste.h"

#define DIR		PMEM_DIR "/reattach"
#define REGION_LEN	(1 << 20)
#define SLOT		4096
#define NR_SLOTS	(REGION_LEN / SLOT)
#define STREAM_LEN	(REGION_LEN / 2)
#define WAL_ENTRIES	4096

struct logged {
	struct paste_range r[NR_SLOTS];
	unsigned int n;
};

static int collect(void *arg, const struct paste_wal_rec *p, unsigned int n)
{
	struct logged *l = arg;
	unsigned int i;

	for (i = 0; i < n && l->n < NR_SLOTS; i++) {
		l->r[l->n].offset = p[i].offset;
		l->r[l->n++].length = p[i].len;
	}
	return 0;
}

/* A connected pair on loopback; the listener carries the region. */
static int pair(struct paste_region *rg, const struct logged *owned, int *srv,
		int *cli)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int lsn = socket(AF_INET, SOCK_STREAM, 0), err;

	if (lsn < 0 || bind(lsn, (struct sockaddr *)&a, alen))
		return -errno;
	err = paste_region_attach(rg, lsn, 0, SLOT, owned ? owned->r : NULL,
				  owned ? owned->n : 0);
	if (err)
		return err;
	if (listen(lsn, 1) || getsockname(lsn, (struct sockaddr *)&a, &alen))
		return -errno;
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	if (*cli < 0 || connect(*cli, (struct sockaddr *)&a, alen))
		return -errno;
	*srv = accept(lsn, NULL, NULL);
	close(lsn);
	return *srv < 0 ? -errno : 0;
}

/* A child that writes @len bytes (or forever when 0) and is killed later. */
static pid_t sender(int fd, size_t len)
{
	static char buf[SLOT];
	pid_t pid = fork();

	if (pid == 0) {
		size_t sent = 0;

		memset(buf, 'p', sizeof(buf));
		while (!len || sent < len) {
			ssize_t n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);

			if (n <= 0)
				_exit(n < 0);
			sent += n;
		}
		_exit(0);
	}
	return pid;
}

static void stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

TEST(log_before_reboot)
{
	struct paste_ref refs[256];
	struct paste_region rg;
	struct paste_wal wal;
	size_t got = 0;
	unsigned int logged = 0, i, n;
	int srv, cli;
	pid_t pid;
	FILE *f;

	mkdir(DIR, 0755);
	ASSERT_EQ(0, paste_region_create(&rg, DIR "/region", REGION_LEN, 0));
	unlink(DIR "/wal");
	ASSERT_EQ(0, paste_wal_open(&wal, DIR "/wal", WAL_ENTRIES, rg.map,
				    rg.len, 0));
	ASSERT_EQ(0, pair(&rg, NULL, &srv, &cli));
	pid = sender(cli, STREAM_LEN);
	while (got < STREAM_LEN) {
		ssize_t r = paste_recv(srv, refs, 256, &n, 0);

		ASSERT_LT(0, r) TH_LOG("paste_recv: %s", strerror((int)-r));
		got += r;
		/* Log every other buffer; the rest go back at close. */
		for (i = 0; i < n; i++) {
			if (refs[i].token % 2)
				continue;
			ASSERT_EQ(0, paste_wal_add(&wal, refs[i].offset,
						   refs[i].len, false));
			logged++;
		}
		ASSERT_LE(0, paste_wal_commit(&wal));
	}
	stop(pid);
	ASSERT_LT(NR_SLOTS / 8, logged);
	/* What boot 2 must find, written durably beside the log. */
	f = fopen(DIR "/expected", "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "%u\n", logged);
	ASSERT_EQ(0, fflush(f));
	ASSERT_EQ(0, fsync(fileno(f)));
	fclose(f);
	close(srv);
	close(cli);
	paste_wal_close(&wal);
	paste_region_close(&rg);
}

TEST(reattach_after_reboot)
{
	static bool owned_slot[NR_SLOTS], seen[NR_SLOTS];
	static struct logged logged, again;
	unsigned int expected = 0, nr_owned = 0, handed = 0, i, n;
	struct paste_ref refs[256];
	struct paste_region rg;
	struct paste_wal wal;
	int srv, cli;
	pid_t pid;
	FILE *f;

	f = fopen(DIR "/expected", "r");
	ASSERT_NE(NULL, f) TH_LOG("boot 1 left no record of what it logged");
	ASSERT_EQ(1, fscanf(f, "%u", &expected));
	fclose(f);
	ASSERT_EQ(0, paste_region_open(&rg, DIR "/region", 0));
	ASSERT_EQ(0, paste_wal_open(&wal, DIR "/wal", 0, rg.map, rg.len, 0));
	ASSERT_EQ((int)expected, paste_wal_recover(&wal, collect, &logged))
		TH_LOG("the WAL lost records across the reboot");
	for (i = 0; i < logged.n; i++) {
		unsigned int s = logged.r[i].offset / SLOT;

		nr_owned += !owned_slot[s];
		owned_slot[s] = true;
	}

	ASSERT_EQ(0, pair(&rg, &logged, &srv, &cli));
	pid = sender(cli, 0);
	for (;;) {
		ssize_t r = paste_recv(srv, refs, 256, &n, 0);

		if (r == -ENOBUFS)
			break;
		ASSERT_LT(0, r) TH_LOG("paste_recv: %s", strerror((int)-r));
		for (i = 0; i < n; i++) {
			unsigned int s = refs[i].offset / SLOT;

			ASSERT_FALSE(owned_slot[s])
				TH_LOG("slot %u is referenced by the WAL but was handed out", s);
			handed += !seen[s];
			seen[s] = true;
		}
	}
	stop(pid);
	EXPECT_EQ(NR_SLOTS - nr_owned, handed)
		TH_LOG("every buffer the WAL does not reference should be usable");
	/* Nothing overwrote the logged payloads: the log still validates. */
	EXPECT_EQ((int)expected, paste_wal_recover(&wal, collect, &again));
	close(srv);
	close(cli);
	paste_wal_close(&wal);
	paste_region_close(&rg);
}

TEST_HARNESS_MAIN
