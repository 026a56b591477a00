// SPDX-License-Identifier: GPL-2.0
/*
 * ss(8) with our iproute2 series (tools/iproute2), run against a live
 * PASTE socket: "ss -i" shows the socket's region, buffers and counters,
 * equal to what getsockopt(SO_PASTE_REGION) tells its owner; "ss --paste"
 * lists PASTE sockets only; Debian's own ss keeps working on this kernel;
 * and without CAP_NET_ADMIN ss shows no PASTE state, as the kernel sends
 * INET_DIAG_PASTE to CAP_NET_ADMIN only.
 */
#include <grp.h>
#include <stdio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define NEW_SS		"./ss"		/* tools/iproute2, in /paste/bin */
#define OLD_SS		"/sbin/ss"	/* Debian's */
#define NR_SLOTS	16
#define SLOT		4096
#define SENT		3000

FIXTURE(ss) {
	struct region r;
	struct sockaddr_storage ss, plain_ss;
	socklen_t sslen, plain_sslen;
	int lsn, cli, srv, plain_lsn, plain_cli, plain_srv;
	struct paste_sock_info own;
	char out[1 << 16];
};

static unsigned int local_port(int fd)
{
	struct sockaddr_in6 a;
	socklen_t len = sizeof(a);

	return getsockname(fd, (struct sockaddr *)&a, &len) ? 0 : ntohs(a.sin6_port);
}

/* Run @cmd; its output in @out. Return: its exit status, or -1. */
static int run(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0, r;
	int st;

	out[0] = 0;
	if (!p)
		return -1;
	while (n + 1 < cap && (r = fread(out + n, 1, cap - 1 - n, p)) > 0)
		n += r;
	out[n] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ss -tinH as nobody (no capabilities); its output in @out. */
static int run_unprivileged(char *out, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	int fd[2], st;
	pid_t pid;

	if (pipe(fd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		dup2(fd[1], 1);
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(126);
		execl(NEW_SS, "ss", "-tinH", (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	while (n + 1 < cap && (r = read(fd[0], out + n, cap - 1 - n)) > 0)
		n += r;
	out[n] = 0;
	close(fd[0]);
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The number after ",@key:" in the "paste:(...)" of @out, or -1. */
static long long field(const char *out, const char *key)
{
	const char *p = strstr(out, "paste:(");
	char k[32];

	if (!p)
		return -1;
	snprintf(k, sizeof(k), ",%s:", key);
	p = strstr(p, k);
	return p ? strtoll(p + strlen(k), NULL, 10) : -1;
}

/* Lines of @out whose local address (4th column) ends in ":@port". */
static int lines_with_local_port(const char *out, unsigned int port)
{
	char line[512], local[128], want[16];
	const char *p = out;
	int n = 0;

	snprintf(want, sizeof(want), ":%u", port);
	while (*p) {
		size_t len = strcspn(p, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		p += len + (p[len] == '\n');
		if (sscanf(line, "%*s %*s %*s %127s", local) == 1 &&
		    strlen(local) > strlen(want) &&
		    !strcmp(local + strlen(local) - strlen(want), want))
			n++;
	}
	return n;
}

FIXTURE_SETUP(ss)
{
	struct paste_region_req req;
	struct paste_ref refs[8];
	char buf[SENT];
	unsigned int n;

	ASSERT_EQ(0, region_open(&self->r, "ss", NR_SLOTS * SLOT, false));
	self->lsn = tcp_listener(AF_INET6, &self->ss, &self->sslen);
	ASSERT_LE(0, self->lsn);
	req = region_req(&self->r, 0);
	req.max_held = 8;
	ASSERT_EQ(0, region_attach_req(self->lsn, &req));
	ASSERT_EQ(0, tcp_pair(self->lsn, &self->ss, self->sslen, &self->cli, &self->srv));
	stream_fill(7, 0, buf, sizeof(buf));
	ASSERT_EQ(0, send_all(self->cli, buf, sizeof(buf)));
	ASSERT_LT(0, wait_inq(self->srv, sizeof(buf)));
	/* Held, not released: the counters have something to show. */
	ASSERT_EQ((ssize_t)sizeof(buf), paste_recv(self->srv, refs, 8, &n, 0));
	ASSERT_EQ(0, paste_info(self->srv, &self->own));
	/* A TCP pair without a region beside it. */
	self->plain_lsn = tcp_listener(AF_INET6, &self->plain_ss, &self->plain_sslen);
	ASSERT_LE(0, self->plain_lsn);
	ASSERT_EQ(0, tcp_pair(self->plain_lsn, &self->plain_ss, self->plain_sslen,
			      &self->plain_cli, &self->plain_srv));
}

FIXTURE_TEARDOWN(ss)
{
	close(self->plain_cli);
	close(self->plain_srv);
	close(self->plain_lsn);
	close(self->cli);
	close(self->srv);
	close(self->lsn);
	region_close(&self->r);
}

TEST_F(ss, info_equals_getsockopt)
{
	const struct paste_sock_info *o = &self->own;
	char cmd[128], region[64];
	const char *p;

	snprintf(cmd, sizeof(cmd), NEW_SS " -tinH --paste 'sport = :%u'",
		 local_port(self->srv));
	ASSERT_EQ(0, run(cmd, self->out, sizeof(self->out)));
	TH_LOG("%s", self->out);
	p = strstr(self->out, "paste:(region:");
	ASSERT_NE(NULL, p) TH_LOG("no paste:(...) in ss -i");
	snprintf(region, sizeof(region), "paste:(region:%llu@%llu,",
		 (unsigned long long)o->region_length,
		 (unsigned long long)o->region_offset);
	EXPECT_EQ(0, strncmp(p, region, strlen(region)));
	EXPECT_EQ(o->slot_size, field(self->out, "slot"));
	EXPECT_EQ(o->nr_slots, field(self->out, "slots"));
	EXPECT_EQ(o->slots_free, field(self->out, "free"));
	EXPECT_EQ(o->slots_pinned, field(self->out, "pinned"));
	EXPECT_EQ(o->refs_outstanding, field(self->out, "held"));
	EXPECT_EQ((long long)o->bytes_placed, field(self->out, "placed"));
	EXPECT_EQ((long long)o->bytes_copied, field(self->out, "copied"));
	EXPECT_EQ((long long)o->bytes_zerocopy, field(self->out, "zerocopy"));
	EXPECT_EQ(o->max_held, field(self->out, "max_held"));
	EXPECT_EQ(SENT, field(self->out, "placed"));
	EXPECT_EQ(8, field(self->out, "max_held"));
}

TEST_F(ss, paste_lists_only_paste_sockets)
{
	ASSERT_EQ(0, run(NEW_SS " -tnH --paste", self->out, sizeof(self->out)));
	TH_LOG("%s", self->out);
	EXPECT_EQ(1, lines_with_local_port(self->out, local_port(self->srv)));
	EXPECT_EQ(0, lines_with_local_port(self->out, local_port(self->cli)))
		TH_LOG("the client end has no region");
	EXPECT_EQ(0, lines_with_local_port(self->out, local_port(self->plain_srv)));
	/* Without --paste the plain pair is there: the filter removed it. */
	ASSERT_EQ(0, run(NEW_SS " -tnH", self->out, sizeof(self->out)));
	EXPECT_EQ(1, lines_with_local_port(self->out, local_port(self->plain_srv)));
}

TEST_F(ss, debian_ss_works_on_this_kernel)
{
	ASSERT_EQ(0, run(OLD_SS " -tinH", self->out, sizeof(self->out)));
	EXPECT_EQ(1, lines_with_local_port(self->out, local_port(self->srv)));
	EXPECT_EQ(NULL, strstr(self->out, "paste:("));
}

TEST_F(ss, unprivileged_ss_shows_no_paste_state)
{
	ASSERT_EQ(0, run_unprivileged(self->out, sizeof(self->out)));
	EXPECT_EQ(1, lines_with_local_port(self->out, local_port(self->srv)))
		TH_LOG("the socket itself is listed");
	EXPECT_EQ(NULL, strstr(self->out, "paste:("))
		TH_LOG("INET_DIAG_PASTE reached a user without CAP_NET_ADMIN");
}

TEST_HARNESS_MAIN
