// SPDX-License-Identifier: GPL-2.0
/*
 * pasted, for real, in every persistence mode on both event loops: POST and
 * GET, pipelining, every error status, recovery after a clean restart,
 * curl and wrk as clients, and no user-space payload copy in paste mode.
 * Then paste mode with small regions and slots, where buffers are reused
 * soon and requests span many of them.
 */
#include <signal.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "http_client.h"
#include "paste_sock.h"

#define PASTED	"/paste/bin/pasted"
#define NKEYS	40
#define BODY	1024
#define RESP_MAX	(16384 + 1024)	/* the largest response, head and body */

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

/* pasted's options besides mode, loop, port and directory. */
static const char *const default_args[] = { "-r", "16", NULL };

/*
 * An io_uring instance closes its files after its process exits, so the
 * previous server's listener can linger briefly: retry while it does.
 * Recovery of a large log on the debug kernel in TCG takes seconds, more
 * on a loaded host: wait up to a minute for the start-up line.
 */
static pid_t start_args(const char *mode, const char *loop, const char *dir,
			int port, const char *log, const char *const *args)
{
	struct pasted_run run = { .bin = PASTED, .mode = mode, .loop = loop,
				  .dir = dir, .log = log, .args = args,
				  .port = port };

	return pasted_start(&run);
}

static pid_t start(const char *mode, const char *loop, const char *dir,
		   int port, const char *log)
{
	return start_args(mode, loop, dir, port, log, default_args);
}

static int stop(pid_t pid)
{
	return pasted_stop(pid);
}

/*
 * How long a client waits for an answer. A paste-mode checkpoint of
 * 11 MB of values took over 10 s on the debug kernel of a slow, loaded
 * machine; sized for twice that.
 */
#define ANSWER_WAIT_S	30

static int conn(int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct timeval tv = { .tv_sec = ANSWER_WAIT_S };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Read one response; return its status and put the body in @body, which
 * has room for @bmax bytes. Pipelined responses must be read one at a
 * time: -2 when more bytes came.
 */
static int read_response(int fd, char *body, size_t bmax, size_t *blen)
{
	char buf[RESP_MAX];
	struct http_reader r = { .buf = buf, .cap = sizeof(buf) };
	int status = http_read_response(fd, &r, body, bmax, blen);

	return status >= 0 && r.len ? -2 : status;
}

static int request(int fd, const char *req, size_t len, char *body,
		   size_t bmax, size_t *blen)
{
	if (send_all(fd, req, len))
		return -1;
	return read_response(fd, body, bmax, blen);
}

static int post(int fd, int key, uint32_t seed)
{
	char req[BODY + 128];
	int n = snprintf(req, sizeof(req),
			 "POST /key%d HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
			 key, BODY);

	stream_fill(seed + key, 0, req + n, BODY);
	return request(fd, req, n + BODY, NULL, 0, NULL);
}

static int get_matches(int fd, int key, uint32_t seed)
{
	char req[64], body[BODY + 512], want[BODY];
	size_t blen = 0;
	int n = snprintf(req, sizeof(req), "GET /key%d HTTP/1.1\r\nHost: t\r\n\r\n", key);
	int status = request(fd, req, n, body, sizeof(body), &blen);

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
	ASSERT_LT(0, self->pid) sh("tail -5 %s", self->log);
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
				"POST /p%d HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n%02d", i, i);
	for (i = 0; i < 10; i++)
		len += snprintf(reqs + len, sizeof(reqs) - len,
				"GET /p%d HTTP/1.1\r\nHost: t\r\n\r\n", i);
	ASSERT_EQ(0, send_all(fd, reqs, len));
	for (i = 0; i < 20; i++) {
		char body[64];
		size_t blen = 0;
		int status = read_response(fd, body, sizeof(body), &blen);

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
		{ "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n", 404 },
		{ "PUT /k HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405 },
		{ "POST /k HTTP/1.1\r\nHost: t\r\n\r\n", 411 },
		{ "POST /k HTTP/1.1\r\nHost: t\r\nContent-Length: 999999\r\n\r\n", 413 },
		{ "GET /bad%key HTTP/1.1\r\nHost: t\r\n\r\n", 400 },
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
			  request(fd, cases[i].req, strlen(cases[i].req), NULL, 0, NULL))
			TH_LOG("case %u", i);
		close(fd);
	}
	/* A head larger than 8 KiB. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "GET /k HTTP/1.1\r\nHost: t\r\nX: ", 20);
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	EXPECT_EQ(431, request(fd, big, sizeof(big), NULL, 0, NULL));
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

/* ------------------------------------------------ paste mode, small buffers */

#define TCP_RMEM	"/proc/sys/net/ipv4/tcp_rmem"

FIXTURE(pastemode) {
	char dir[128];
	char log[160];
	int port;
	pid_t pid;
	char rmem[128];		/* tcp_rmem to restore, if changed */
};

/* Write @val to the sysctl @path; its old value goes to @old. */
static int sysctl_swap(const char *path, const char *val, char *old, size_t n)
{
	FILE *f = fopen(path, "r");
	bool ok = f && fgets(old, n, f);

	if (f)
		fclose(f);
	f = ok ? fopen(path, "w") : NULL;
	ok = f && fputs(val, f) >= 0;
	if (f && fclose(f))
		ok = false;
	if (!ok)
		old[0] = '\0';
	return ok ? 0 : -1;
}

FIXTURE_VARIANT(pastemode) {
	const char *loop;
};

FIXTURE_VARIANT_ADD(pastemode, epoll) { .loop = "epoll" };
FIXTURE_VARIANT_ADD(pastemode, uring) { .loop = "uring" };

FIXTURE_SETUP(pastemode)
{
	static int next_port = 9700;
	char cmd[512];

	self->port = next_port++ + getpid() % 500;
	self->pid = 0;
	snprintf(self->dir, sizeof(self->dir), PMEM_DIR "/pastemode-%s",
		 variant->loop);
	snprintf(self->log, sizeof(self->log), "/tmp/pastemode-%s.log",
		 variant->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s; mkdir -p %s", self->dir,
		 self->log, self->dir);
	ASSERT_EQ(0, system(cmd));
}

FIXTURE_TEARDOWN(pastemode)
{
	char cmd[512];

	if (self->pid > 0)
		stop(self->pid);
	if (self->rmem[0])
		sysctl_swap(TCP_RMEM, self->rmem, cmd, sizeof(cmd));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	system(cmd);
}

/* POST @len bytes of @body to /@key; the status. */
static int post_bytes(int fd, const char *key, const char *body, size_t len)
{
	char *req = malloc(len + 256);
	int n, status;

	if (!req)
		return -1;
	n = snprintf(req, 256, "POST /%s HTTP/1.1\r\nHost: t\r\nContent-Length: %zu\r\n\r\n",
		     key, len);
	memcpy(req + n, body, len);
	status = request(fd, req, n + len, NULL, 0, NULL);
	free(req);
	return status;
}

/* Send the GET @req: 200 when the value is exactly @want, else the status
 * or -3. */
static int get_req_eq(int fd, const char *req, size_t n, const char *want,
		      size_t len)
{
	char *body = malloc(RESP_MAX);
	size_t blen = 0;
	int status;

	if (!body)
		return -1;
	status = request(fd, req, n, body, RESP_MAX, &blen);
	if (status == 200 && (blen != len || memcmp(body, want, len)))
		status = -3;
	free(body);
	return status;
}

static int get_eq(int fd, const char *key, const char *want, size_t len)
{
	char req[256];
	int n = snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\nHost: t\r\n\r\n", key);

	return get_req_eq(fd, req, n, want, len);
}

static pid_t pastemode_start(FIXTURE_DATA(pastemode) *self, const char *loop,
			     const char *const *args)
{
	return start_args("paste", loop, self->dir, self->port, self->log, args);
}

/*
 * SIGKILL pasted, start it again on the same files and connect: the
 * connection, or -1.
 */
static int crash_and_restart(FIXTURE_DATA(pastemode) *self, const char *loop,
			     const char *const *args)
{
	if (kill(self->pid, SIGKILL) || waitpid(self->pid, NULL, 0) != self->pid)
		return -1;
	self->pid = pastemode_start(self, loop, args);
	return self->pid > 0 ? conn(self->port) : -1;
}

/*
 * A POST whose buffer also holds the start of the next request (here a
 * stray CRLF) is logged, but the buffer is still queued when the client
 * closes. It must be pinned, not released with the socket: in a 1 MiB
 * region, a few hundred requests later the allocator would hand it out.
 */
TEST_F_TIMEOUT(pastemode, logged_buffer_outlives_its_connection, 300)
{
	static const char *const args[] = { "-r", "1", NULL };
	static const char post[] = "POST /victim HTTP/1.1\r\nHost: t\r\n"
				   "Content-Length: 10\r\n\r\n0123456789\r\n";
	char get[512];
	int fd, i, n;

	self->pid = pastemode_start(self, variant->loop, args);
	ASSERT_LT(0, self->pid) sh("tail -5 %s", self->log);
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	ASSERT_EQ(201, request(fd, post, sizeof(post) - 1, NULL, 0, NULL));
	close(fd);

	/* Requests long enough to cover the value where it lies in a slot. */
	n = snprintf(get, sizeof(get), "GET /victim HTTP/1.1\r\nHost: t\r\nX-Pad: ");
	memset(get + n, 'x', 300);
	n += 300;
	n += snprintf(get + n, sizeof(get) - n, "\r\n\r\n");
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	/* 1 MiB is 256 slots of 4 KiB: go around the region twice. */
	for (i = 0; i < 600; i++) {
		ASSERT_EQ(200, get_req_eq(fd, get, n, "0123456789", 10))
			TH_LOG("GET %d", i);
	}
	close(fd);

	ASSERT_EQ(0, stop(self->pid));
	self->pid = pastemode_start(self, variant->loop, args);
	ASSERT_LT(0, self->pid);
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	EXPECT_EQ(200, get_eq(fd, "victim", "0123456789", 10));
	close(fd);
}

/*
 * 300 POSTs of 1 KiB in one write, in 512-byte slots, queued while pasted
 * is stopped: one readiness event then consumes far more references than
 * a connection keeps between settling them. Every buffer with logged bytes
 * must still be held, and pinned at close: 2500 requests then go around
 * the 2048 slots of a 1 MiB region, and every value must stay intact.
 */
TEST_F_TIMEOUT(pastemode, pipelined_posts_in_small_slots, 600)
{
	static const char *const args[] = { "-r", "1", "--slot-size", "512", NULL };
	char *reqs = malloc(300 * (BODY + 128)), *resp = malloc(64 << 10);
	char want[BODY], get[512], *p;
	size_t len = 0, got = 0, off = 0;
	int fd, k, i, created = 0;
	ssize_t n;

	ASSERT_NE(NULL, reqs);
	ASSERT_NE(NULL, resp);
	/* Receive buffers that take all of it while pasted is stopped. */
	if (sysctl_swap(TCP_RMEM, "4096 1048576 6291456", self->rmem,
			sizeof(self->rmem)))
		TH_LOG("could not raise %s: the test may queue less", TCP_RMEM);
	self->pid = pastemode_start(self, variant->loop, args);
	ASSERT_LT(0, self->pid) sh("tail -5 %s", self->log);
	for (k = 0; k < 300; k++) {
		len += snprintf(reqs + len, 128,
				"POST /pipe%03d HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
				k, BODY);
		stream_fill(300 + k, 0, reqs + len, BODY);
		len += BODY;
	}
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kill(self->pid, SIGSTOP));
	/* What the receive window takes: well over 128 slots' worth. */
	for (i = 0; i < 50 && off < len; i++) {
		n = send(fd, reqs + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			break;
		if (n > 0)
			off += n;
		else
			usleep(10000);
	}
	ASSERT_EQ(0, kill(self->pid, SIGCONT));
	TH_LOG("%zu of %zu bytes queued while pasted was stopped", off, len);
	ASSERT_EQ(0, send_all(fd, reqs + off, len - off));
	ASSERT_EQ(0, shutdown(fd, SHUT_WR));
	while ((n = recv(fd, resp + got, (64 << 10) - 1 - got, 0)) > 0)
		got += n;
	resp[got] = '\0';
	close(fd);
	for (p = resp; (p = strstr(p, "HTTP/1.1 201 ")); p++)
		created++;
	EXPECT_EQ(300, created);
	if (self->rmem[0]) {
		sysctl_swap(TCP_RMEM, self->rmem, get, sizeof(get));
		self->rmem[0] = '\0';
	}

	fd = conn(self->port);
	ASSERT_LE(0, fd);
	for (i = 0; i < 2500; i++) {
		/* A slot's worth of request, to overwrite whatever it reuses. */
		k = i % 300;
		n = snprintf(get, sizeof(get), "GET /pipe%03d HTTP/1.1\r\nHost: t\r\nX-Pad: ", k);
		memset(get + n, 'x', 440);
		n += 440;
		n += snprintf(get + n, sizeof(get) - n, "\r\n\r\n");
		stream_fill(300 + k, 0, want, BODY);
		ASSERT_EQ(200, get_req_eq(fd, get, n, want, BODY))
			TH_LOG("GET %d: pipe%03d", i, k);
	}
	close(fd);
	EXPECT_EQ(0, stop(self->pid));
	self->pid = 0;
	free(reqs);
	free(resp);
}

/*
 * Bodies up to the 16 KiB limit in 512-byte slots span up to 33 buffers,
 * more when the client sends them in small writes: each must be stored,
 * served and recovered whole.
 */
TEST_F_TIMEOUT(pastemode, bodies_spanning_many_slots, 300)
{
	static const char *const args[] = { "-r", "16", "--slot-size", "512", NULL };
	static const size_t sizes[] = { 5000, 13000, 16384 };
	char *val = malloc(16384), *req = malloc(16384 + 256), key[32];
	int fd, one = 1, i, n;
	size_t off, chunk;

	ASSERT_NE(NULL, val);
	ASSERT_NE(NULL, req);
	self->pid = pastemode_start(self, variant->loop, args);
	ASSERT_LT(0, self->pid) sh("tail -5 %s", self->log);
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "big%zu", sizes[i]);
		stream_fill(500 + i, 0, val, sizes[i]);
		EXPECT_EQ(201, post_bytes(fd, key, val, sizes[i])) TH_LOG("POST %s", key);
		EXPECT_EQ(200, get_eq(fd, key, val, sizes[i])) TH_LOG("GET %s", key);
	}
	close(fd);

	/* 16 KiB in 48 writes, each its own segment: up to 48 references. */
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	stream_fill(510, 0, val, 16384);
	n = snprintf(req, 256, "POST /seg HTTP/1.1\r\nHost: t\r\nContent-Length: 16384\r\n\r\n");
	memcpy(req + n, val, 16384);
	for (off = 0; off < n + 16384UL; off += chunk) {
		chunk = off ? 342 : n + 342UL;
		if (chunk > n + 16384UL - off)
			chunk = n + 16384UL - off;
		ASSERT_EQ(0, send_all(fd, req + off, chunk));
		usleep(2000);
	}
	EXPECT_EQ(201, read_response(fd, NULL, 0, NULL));
	EXPECT_EQ(200, get_eq(fd, "seg", val, 16384));
	close(fd);

	ASSERT_EQ(0, stop(self->pid));
	self->pid = pastemode_start(self, variant->loop, args);
	ASSERT_LT(0, self->pid);
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "big%zu", sizes[i]);
		stream_fill(500 + i, 0, val, sizes[i]);
		EXPECT_EQ(200, get_eq(fd, key, val, sizes[i])) TH_LOG("recovered %s", key);
	}
	stream_fill(510, 0, val, 16384);
	EXPECT_EQ(200, get_eq(fd, "seg", val, 16384));
	close(fd);
	free(val);
	free(req);
}

/*
 * A 16 KiB body in 200 segments, each received on its own, is more
 * references than a queue (or a WAL record) holds: pasted compacts them
 * into the free tails of their slots rather than refuse a legal request,
 * and the value survives a crash.
 */
TEST_F_TIMEOUT(pastemode, body_in_more_segments_than_a_record_holds, 300)
{
	char *val = malloc(16384), *req = malloc(16384 + 256);
	size_t off, chunk, total;
	int fd, one = 1, n;

	ASSERT_NE(NULL, val);
	ASSERT_NE(NULL, req);
	self->pid = pastemode_start(self, variant->loop, default_args);
	ASSERT_LT(0, self->pid) sh("tail -5 %s", self->log);
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	stream_fill(520, 0, val, 16384);
	n = snprintf(req, 256, "POST /frag HTTP/1.1\r\nHost: t\r\nContent-Length: 16384\r\n\r\n");
	memcpy(req + n, val, 16384);
	total = n + 16384UL;
	for (off = 0; off < total; off += chunk) {
		chunk = total - off < 83 ? total - off : 83;
		ASSERT_EQ(0, send_all(fd, req + off, chunk));
		usleep(3000);
	}
	EXPECT_EQ(201, read_response(fd, NULL, 0, NULL));
	EXPECT_EQ(200, get_eq(fd, "frag", val, 16384));
	close(fd);

	fd = crash_and_restart(self, variant->loop, default_args);
	ASSERT_LE(0, fd) sh("tail -5 %s", self->log);
	EXPECT_EQ(200, get_eq(fd, "frag", val, 16384)) TH_LOG("after the crash");
	close(fd);
	free(val);
	free(req);
}

/*
 * With 512-byte slots, 2100 bodies of 16 KiB are some 70,000 logged
 * buffers: more than the kernel takes as owned ranges at attach
 * (PASTE_MAX_OWNED). pasted must checkpoint before that, and name whole
 * runs of slots, so that it starts again after a crash with every value.
 */
/* Read @n pipelined responses; how many were 201, or -1. */
static int count_created(int fd, int n)
{
	char buf[4096];
	struct http_reader r = { .buf = buf, .cap = sizeof(buf) };
	int created = 0, status;

	while (n--) {
		status = http_read_response(fd, &r, NULL, 0, NULL);
		if (status < 0)
			return -1;
		created += status == 201;
	}
	return created;
}

#define MANY_POSTS	2100
TEST_F_TIMEOUT(pastemode, restart_after_more_pieces_than_owned_ranges, 900)
{
	static const char *const args[] = { "-r", "64", "--slot-size", "512", NULL };
	char *val = malloc(16384), *req = malloc(8 * (16384 + 128)), key[32];
	int fd, i, j, status, created = 0;
	size_t len;

	ASSERT_NE(NULL, val);
	ASSERT_NE(NULL, req);
	self->pid = pastemode_start(self, variant->loop, args);
	ASSERT_LT(0, self->pid) sh("tail -5 %s", self->log);
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	for (i = 0; i < MANY_POSTS; i += 8) {
		/* Eight pipelined requests, each key a few times over. */
		for (len = 0, j = i; j < i + 8 && j < MANY_POSTS; j++) {
			len += snprintf(req + len, 128,
					"POST /many%03d HTTP/1.1\r\nHost: t\r\nContent-Length: 16384\r\n\r\n",
					j % 700);
			stream_fill(1000 + j, 0, req + len, 16384);
			len += 16384;
		}
		ASSERT_EQ(0, send_all(fd, req, len))
			sh("tail -5 %s", self->log);
		status = count_created(fd, j - i);
		ASSERT_LE(0, status) sh("tail -5 %s", self->log);
		created += status;
	}
	EXPECT_EQ(MANY_POSTS, created)
		sh("tail -5 %s", self->log);
	close(fd);

	fd = crash_and_restart(self, variant->loop, args);
	ASSERT_LE(0, fd) sh("tail -5 %s", self->log);
	/* Each key holds the last of its three values. */
	for (i = MANY_POSTS - 700; i < MANY_POSTS; i++) {
		snprintf(key, sizeof(key), "many%03d", i % 700);
		stream_fill(1000 + i, 0, val, 16384);
		ASSERT_EQ(200, get_eq(fd, key, val, 16384)) TH_LOG("%s", key);
	}
	close(fd);
	free(val);
	free(req);
}

#define ISTEPS	700	/* POSTs per connection: 1400 of 2048 slots */
#define IBODY	200
#define ISPLIT	120	/* bytes of a request sent with the one before */

static size_t interleaved_req(char *buf, int c, int k)
{
	int n = snprintf(buf, 128, "POST /i%d-%04d HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n",
			 c, k, IBODY);

	stream_fill(1000 + c * ISTEPS + k, 0, buf + n, IBODY);
	return n + IBODY;
}

/*
 * Two connections take turns; each write ends one POST and starts the
 * next, so every buffer holds bytes of two records of its connection,
 * with the other connection's records logged in between. After a restart
 * recovery lists the buffers the log references, one entry per slot at
 * most, whatever the order.
 */
TEST_F_TIMEOUT(pastemode, recovery_lists_each_buffer_once, 600)
{
	static const char *const args[] = { "-r", "1", "--slot-size", "512", NULL };
	char cur[2][256], next[256], out[512], key[32];
	size_t clen[2], nlen, want_len;
	int fds[2], c, k;

	self->pid = pastemode_start(self, variant->loop, args);
	ASSERT_LT(0, self->pid) sh("tail -5 %s", self->log);
	for (c = 0; c < 2; c++) {
		fds[c] = conn(self->port);
		ASSERT_LE(0, fds[c]);
		clen[c] = interleaved_req(cur[c], c, 0);
		ASSERT_EQ(0, send_all(fds[c], cur[c], ISPLIT));
	}
	for (k = 0; k < ISTEPS; k++) {
		for (c = 0; c < 2; c++) {
			size_t n = clen[c] - ISPLIT;

			memcpy(out, cur[c] + ISPLIT, n);
			nlen = 0;
			if (k + 1 < ISTEPS) {
				nlen = interleaved_req(next, c, k + 1);
				memcpy(out + n, next, ISPLIT);
			}
			ASSERT_EQ(0, send_all(fds[c], out, n + (nlen ? ISPLIT : 0)));
			ASSERT_EQ(201, read_response(fds[c], NULL, 0, NULL))
				TH_LOG("POST i%d-%04d", c, k);
			memcpy(cur[c], next, nlen);
			clen[c] = nlen;
		}
	}
	close(fds[0]);
	close(fds[1]);

	ASSERT_EQ(0, stop(self->pid));
	self->pid = pastemode_start(self, variant->loop, args);
	ASSERT_LT(0, self->pid) sh("tail -5 %s", self->log);
	fds[0] = conn(self->port);
	ASSERT_LE(0, fds[0]);
	for (c = 0; c < 2; c++) {
		for (k = 0; k < ISTEPS; k++) {
			want_len = interleaved_req(next, c, k);
			snprintf(key, sizeof(key), "i%d-%04d", c, k);
			ASSERT_EQ(200, get_eq(fds[0], key, next + want_len - IBODY, IBODY))
				TH_LOG("recovered %s", key);
		}
	}
	close(fds[0]);
	EXPECT_EQ(0, stop(self->pid));
	self->pid = 0;
}

/* From pasted's summary at exit in @log: the value before @what, or -1. */
static long summary_count(const char *log, const char *what)
{
	char line[1024], *p;
	long v = -1;
	FILE *f = fopen(log, "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "pasted: stopped:", 16))
			continue;
		p = strstr(line, what);
		while (p && p > line && p[-1] == ' ')
			p--;
		while (p && p > line && p[-1] >= '0' && p[-1] <= '9')
			p--;
		if (p)
			v = strtol(p, NULL, 10);
	}
	if (f)
		fclose(f);
	return v;
}

#define TRICKLE_CONNS	8
#define TRICKLE_BYTES	40

/*
 * Slow clients that send a head a byte at a time use a region buffer per
 * segment (4 KiB for 1 byte): 8 x 40 of them exhaust a 1 MiB region of
 * 256 slots. Receives then fail with ENOBUFS. Nothing logged is held, so a
 * checkpoint cannot free anything: pasted must not run one per failed
 * receive (363,000 in 10 s before), nor spin; the connections wait, get
 * 408 at the request timeout, and their buffers serve new clients.
 */
TEST_F_TIMEOUT(pastemode, byte_segments_exhaust_region_without_checkpoint_storm, 300)
{
	static const char *const args[] = { "-r", "1", "--request-timeout", "4",
					    NULL };
	static const char head[] = "POST /trickle HTTP/1.1\r\nHost: t\r\nX-Slow: ";
	int fds[TRICKLE_CONNS], i, b, one = 1, fd;
	long t0, t1, checkpoints, starved;
	char buf[512];

	_Static_assert(sizeof(head) - 1 >= TRICKLE_BYTES, "head too short");
	self->pid = pastemode_start(self, variant->loop, args);
	ASSERT_LT(0, self->pid) sh("tail -5 %s", self->log);
	for (i = 0; i < TRICKLE_CONNS; i++) {
		fds[i] = conn(self->port);
		ASSERT_LE(0, fds[i]);
		ASSERT_EQ(0, setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one,
					sizeof(one)));
	}
	/* Round robin, a byte a segment, slowly enough that each is read. */
	for (b = 0; b < TRICKLE_BYTES; b++) {
		for (i = 0; i < TRICKLE_CONNS; i++) {
			ASSERT_EQ(1, send(fds[i], head + b, 1, MSG_NOSIGNAL));
			usleep(3000);
		}
	}
	usleep(300000);
	t0 = proc_cpu_ticks(self->pid);
	sleep(2);
	t1 = proc_cpu_ticks(self->pid);
	ASSERT_LE(0, t0);
	/* Spinning is 200 ticks in 2 s; waiting is about 0. */
	EXPECT_GT(50, t1 - t0) TH_LOG("pasted used %ld ticks in 2 s of exhaustion",
				      t1 - t0);

	/* The request timeout answers 408 and frees their buffers. */
	for (i = 0; i < TRICKLE_CONNS; i++) {
		ssize_t n = recv(fds[i], buf, sizeof(buf) - 1, 0);

		buf[n > 0 ? n : 0] = '\0';
		EXPECT_EQ(0, strncmp(buf, "HTTP/1.1 408", 12))
			TH_LOG("connection %d: %.40s", i, buf);
		close(fds[i]);
	}
	fd = conn(self->port);
	ASSERT_LE(0, fd);
	EXPECT_EQ(201, post_bytes(fd, "after", "served", 6));
	EXPECT_EQ(200, get_eq(fd, "after", "served", 6));
	close(fd);

	ASSERT_EQ(0, stop(self->pid));
	self->pid = 0;
	checkpoints = summary_count(self->log, "checkpoints");
	starved = summary_count(self->log, "receives without buffers");
	TH_LOG("%ld checkpoints, %ld receives refused for want of buffers",
	       checkpoints, starved);
	EXPECT_LT(0, starved) TH_LOG("the region was never exhausted");
	EXPECT_LE(0, checkpoints);
	EXPECT_GT(5, checkpoints);
}

TEST_HARNESS_MAIN
