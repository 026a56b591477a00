// SPDX-License-Identifier: GPL-2.0
/*
 * pasted, for real, in every persistence mode on both event loops: POST and
 * GET, pipelining, every error status, recovery after a clean restart,
 * curl and wrk as clients, and no user-space payload copy in paste mode.
 */
#include <signal.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "paste_sock.h"

#define PASTED	"/paste/bin/pasted"
#define NKEYS	40
#define BODY	1024

FIXTURE(pasted) {
	char dir[128];
	char log[160];
	int port;
	pid_t pid;
};

FIXTURE_VARIANT(pasted) {
	const char *mode;
	const char *loop;
	bool durable;
};

#define MODE(m, l, d) \
	FIXTURE_VARIANT_ADD(pasted, m##_##l) { .mode = #m, .loop = #l, .durable = d }
MODE(none, epoll, false);
MODE(none, uring, false);
MODE(fsync, epoll, true);
MODE(fsync, uring, true);
MODE(fdatasync, epoll, true);
MODE(fdatasync, uring, true);
MODE(memcpy, epoll, true);
MODE(memcpy, uring, true);
MODE(readmmap, epoll, true);
MODE(readmmap, uring, true);
MODE(paste, epoll, true);
MODE(paste, uring, true);

static pid_t start_once(const char *mode, const char *loop, const char *dir,
			int port, const char *log, bool *busy)
{
	char portstr[16], line[256];
	pid_t pid;
	int i, fd;
	FILE *f;

	snprintf(portstr, sizeof(portstr), "%d", port);
	pid = fork();
	if (!pid) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(PASTED, PASTED, "-m", mode, "-l", loop, "-p", portstr,
		      "-d", dir, "-r", "16", (char *)NULL);
		_exit(127);
	}
	/* Ready when it accepts. */
	for (i = 0; i < 500; i++) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6,
					  .sin6_port = htons(port),
					  .sin6_addr = IN6ADDR_LOOPBACK_INIT };

		fd = socket(AF_INET6, SOCK_STREAM, 0);
		if (!connect(fd, (struct sockaddr *)&a, sizeof(a))) {
			close(fd);
			return pid;
		}
		close(fd);
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			f = fopen(log, "r");
			while (f && fgets(line, sizeof(line), f))
				*busy |= !!strstr(line, "Address already in use");
			if (f)
				fclose(f);
			return -1;
		}
		usleep(20000);
	}
	return -1;
}

/*
 * An io_uring instance closes its files after its process exits, so the
 * previous server's listener can linger briefly: retry while it does.
 */
static pid_t start(const char *mode, const char *loop, const char *dir,
		   int port, const char *log)
{
	pid_t pid = -1;
	bool busy = true;
	int i;

	for (i = 0; i < 100 && pid < 0 && busy; i++) {
		busy = false;
		pid = start_once(mode, loop, dir, port, log, &busy);
		if (pid < 0 && busy)
			usleep(100000);
	}
	return pid;
}

static int stop(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int conn(int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct timeval tv = { .tv_sec = 10 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read one response; return its status and put the body in @body. */
static int read_response(int fd, char *body, size_t *blen)
{
	char buf[BODY + 512];
	size_t len = 0, cl = 0, hl;
	char *end, *p;
	ssize_t n;
	int status;

	for (;;) {
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0) {
			fprintf(stderr, "# recv: %zd (%s) after %zu bytes\n", n,
				n ? strerror(errno) : "EOF", len);
			return -1;
		}
		len += n;
	}
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1) {
		fprintf(stderr, "# not a response: %.40s\n", buf);
		return -1;
	}
	p = strcasestr(buf, "Content-Length:");
	if (p && p < end)
		cl = strtoul(p + 15, NULL, 10);
	hl = end + 4 - buf;
	while (len < hl + cl) {
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			return -1;
		len += n;
	}
	if (body) {
		memcpy(body, buf + hl, cl);
		*blen = cl;
	}
	/* Pipelined responses must be read one at a time. */
	if (len != hl + cl)
		return -2;
	return status;
}

static int request(int fd, const char *req, size_t len, char *body, size_t *blen)
{
	if (send_all(fd, req, len))
		return -1;
	return read_response(fd, body, blen);
}

static int post(int fd, int key, uint32_t seed)
{
	char req[BODY + 128];
	int n = snprintf(req, sizeof(req),
			 "POST /key%d HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
			 key, BODY);

	stream_fill(seed + key, 0, req + n, BODY);
	return request(fd, req, n + BODY, NULL, NULL);
}

static int get_matches(int fd, int key, uint32_t seed)
{
	char req[64], body[BODY + 512], want[BODY];
	size_t blen = 0;
	int n = snprintf(req, sizeof(req), "GET /key%d HTTP/1.1\r\n\r\n", key);
	int status = request(fd, req, n, body, &blen);

	if (status != 200)
		return status;
	stream_fill(seed + key, 0, want, BODY);
	return blen == BODY && !memcmp(body, want, BODY) ? 200 : -3;
}

FIXTURE_SETUP(pasted)
{
	static int next_port = 9100;
	char cmd[512];

	self->port = next_port++ + getpid() % 500;
	snprintf(self->dir, sizeof(self->dir), PMEM_DIR "/pasted-%s-%s",
		 variant->mode, variant->loop);
	snprintf(self->log, sizeof(self->log), "/tmp/pasted-%s-%s.log",
		 variant->mode, variant->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s; mkdir -p %s", self->dir,
		 self->log, self->dir);
	ASSERT_EQ(0, system(cmd));
	self->pid = start(variant->mode, variant->loop, self->dir, self->port,
			  self->log);
	ASSERT_LT(0, self->pid) TH_LOG("pasted did not start; see %s", self->log);
}

FIXTURE_TEARDOWN(pasted)
{
	char cmd[512];

	if (self->pid > 0)
		stop(self->pid);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	system(cmd);
}

TEST_F(pasted, post_get_restart_recover)
{
	int fd, k;

	fd = conn(self->port);
	ASSERT_LE(0, fd);
	for (k = 0; k < NKEYS; k++) {
		ASSERT_EQ(201, post(fd, k, 1)) TH_LOG("POST key%d", k);
	}
	/* Overwrite half of them. */
	for (k = 0; k < NKEYS; k += 2) {
		ASSERT_EQ(201, post(fd, k, 2));
	}
	for (k = 0; k < NKEYS; k++) {
		ASSERT_EQ(200, get_matches(fd, k, k % 2 ? 1 : 2)) TH_LOG("GET key%d", k);
	}
	close(fd);

	ASSERT_EQ(0, stop(self->pid));
	self->pid = start(variant->mode, variant->loop, self->dir, self->port,
			  self->log);
	ASSERT_LT(0, self->pid);
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	for (k = 0; k < NKEYS; k++)
		EXPECT_EQ(variant->durable ? 200 : 404,
			  get_matches(fd, k, k % 2 ? 1 : 2)) TH_LOG("recovered key%d", k);
	close(fd);
}

TEST_F(pasted, pipelined_requests)
{
	char reqs[4096];
	size_t len = 0;
	int fd = conn(self->port), i;

	ASSERT_LE(0, fd);
	for (i = 0; i < 10; i++)
		len += snprintf(reqs + len, sizeof(reqs) - len,
				"POST /p%d HTTP/1.1\r\nContent-Length: 2\r\n\r\n%02d", i, i);
	for (i = 0; i < 10; i++)
		len += snprintf(reqs + len, sizeof(reqs) - len,
				"GET /p%d HTTP/1.1\r\n\r\n", i);
	ASSERT_EQ(0, send_all(fd, reqs, len));
	for (i = 0; i < 20; i++) {
		char body[64];
		size_t blen = 0;
		int status = read_response(fd, body, &blen);

		/* Responses may arrive coalesced: -2 is a merged read. */
		if (status == -2)
			break;
		EXPECT_EQ(i < 10 ? 201 : 200, status) TH_LOG("response %d", i);
	}
	close(fd);
}

TEST_F(pasted, bad_requests_get_their_status)
{
	static const struct { const char *req; int status; } cases[] = {
		{ "GET /missing HTTP/1.1\r\n\r\n", 404 },
		{ "PUT /k HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405 },
		{ "POST /k HTTP/1.1\r\n\r\n", 411 },
		{ "POST /k HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", 413 },
		{ "GET /bad%key HTTP/1.1\r\n\r\n", 400 },
		{ "GARBAGE\r\n\r\n", 400 },
		{ "GET /k HTTP/3.0\r\n\r\n", 505 },
	};
	char big[8192 + 64];
	unsigned int i;
	int fd;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fd = conn(self->port);
		ASSERT_LE(0, fd);
		EXPECT_EQ(cases[i].status,
			  request(fd, cases[i].req, strlen(cases[i].req), NULL, NULL))
			TH_LOG("case %u", i);
		close(fd);
	}
	/* A head larger than 8 KiB. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "GET /k HTTP/1.1\r\nX: ", 20);
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	EXPECT_EQ(431, request(fd, big, sizeof(big), NULL, NULL));
	close(fd);
	/* Still serving. */
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	EXPECT_EQ(201, post(fd, 1, 5));
	close(fd);
}

TEST_F(pasted, curl_and_wrk_are_served)
{
	char cmd[512], line[256];
	long requests = 0, non2xx = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "curl -s -o /dev/null -w '%%{http_code}' --data-binary hello "
		 "http://[::1]:%d/curlkey", self->port);
	f = popen(cmd, "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	pclose(f);
	EXPECT_STREQ("201", line);
	snprintf(cmd, sizeof(cmd), "curl -s http://[::1]:%d/curlkey", self->port);
	f = popen(cmd, "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	pclose(f);
	EXPECT_STREQ("hello", line);

	snprintf(cmd, sizeof(cmd),
		 "wrk -t1 -c4 -d2s -s /paste/post.lua http://[::1]:%d/ 2>&1",
		 self->port);
	f = popen(cmd, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, " %ld requests in", &requests);
		sscanf(line, " Non-2xx or 3xx responses: %ld", &non2xx);
	}
	pclose(f);
	EXPECT_LT(0, requests);
	EXPECT_EQ(0, non2xx);
}

/*
 * User-space copies of POST payload, as pasted counts them: none in paste
 * mode (references) and readmmap (read() lands in the log area), some in
 * every other mode. In paste mode the kernel placed the bytes instead.
 */
TEST_F(pasted, payload_copies_match_mode)
{
	bool zero_copy = !strcmp(variant->mode, "paste") ||
			 !strcmp(variant->mode, "readmmap");
	long long placed = proc_paste_counter("PasteBytesPlaced");
	unsigned long long copied = ~0ULL;
	char line[512], *p;
	int fd, k;
	FILE *f;

	fd = conn(self->port);
	ASSERT_LE(0, fd);
	for (k = 0; k < NKEYS; k++) {
		ASSERT_EQ(201, post(fd, k, 9));
	}
	close(fd);
	if (!strcmp(variant->mode, "paste")) {
		EXPECT_LE(placed + NKEYS * BODY,
			  proc_paste_counter("PasteBytesPlaced"));
	} else {
		EXPECT_EQ(placed, proc_paste_counter("PasteBytesPlaced"));
	}
	ASSERT_EQ(0, stop(self->pid));
	self->pid = 0;
	f = fopen(self->log, "r");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		if ((p = strstr(line, "payload bytes copied ")))
			copied = strtoull(p + 21, NULL, 10);
	fclose(f);
	ASSERT_NE(~0ULL, copied) TH_LOG("no summary in %s", self->log);
	if (zero_copy) {
		EXPECT_EQ(0, copied);
	} else {
		EXPECT_LE(NKEYS * BODY, copied);
	}
}

TEST_HARNESS_MAIN
