// SPDX-License-Identifier: GPL-2.0
/*
 * crashload: the client side of the power-cut tests.
 *
 *   crashload load   POSTs unique keys with checksummed bodies over N
 *                    connections and records what was acknowledged; it
 *                    cuts the power (SIGKILL to QEMU) at a chosen moment,
 *                    or marks crash points for the flush-ordering checker.
 *   crashload verify GETs what earlier runs recorded: every acknowledged
 *                    key must hold its exact body, a key in flight at the
 *                    cut is absent or exact, a key never sent is absent.
 *
 * Key "k<run>-<conn>-<seq>"; each connection sends its keys in order, one
 * at a time, so a run is recorded as one line per connection:
 *
 *   <run> <conn> <acked> <inflight>
 *
 * (keys 1..acked acknowledged, key acked+1 sent but not acknowledged when
 * inflight is 1). One thread drives every connection with poll(), so the
 * record is exact at any instant, which the crash-point markers rely on.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS	64
#define MAX_RUNS	256
#define MAX_BODY	4000
#define REQ_CAP		(MAX_BODY + 512)
#define RESP_CAP	(MAX_BODY + 4096)

struct options {
	const char *host;
	int port;
	int conns;
	int run;
	uint64_t seed;
	int kill_pid;
	int kill_after_ms;
	int duration_ms;
	int markers;		/* crash-point markers for the checker */
	int sample;		/* verify: keys sampled from older runs */
	const char *state;
};

/* ------------------------------------------------------------ bodies */

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--) {
		h ^= (unsigned char)*s++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static int key_name(char *buf, size_t cap, int run, int conn, uint32_t seq)
{
	return snprintf(buf, cap, "k%d-%d-%u", run, conn, seq);
}

/*
 * The body of a key: 16 to MAX_BODY printable bytes derived from the key,
 * ending in "#" and the FNV-1a hash of what precedes it (16 hex digits),
 * so a torn or mixed value is recognised even without the key.
 */
static size_t body_of(const char *key, char *out)
{
	uint64_t x = fnv1a(key, strlen(key)) | 1;
	size_t len = 16 + xorshift(&x) % (MAX_BODY - 16 - 17 + 1);
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = 'a' + xorshift(&x) % 26;
	out[len] = '#';
	snprintf(out + len + 1, 17, "%016llx",
		 (unsigned long long)fnv1a(out, len));
	return len + 17;
}

static bool body_self_consistent(const char *b, size_t n)
{
	char want[17];

	if (n < 18 || b[n - 17] != '#')
		return false;
	snprintf(want, sizeof(want), "%016llx",
		 (unsigned long long)fnv1a(b, n - 17));
	return memcmp(want, b + n - 16, 16) == 0;
}

/* ------------------------------------------------------------ connections */

struct job {
	int run, conn;
	uint32_t seq;
	bool post;
};

struct conn {
	int fd;
	bool busy;
	struct job job;
	char req[REQ_CAP];
	size_t req_len, req_sent;
	char resp[RESP_CAP];
	size_t resp_len;
};

struct record {
	int run, conn;
	uint32_t acked;
	int inflight;
};

struct verify_plan {
	struct record rec[MAX_RUNS * MAX_CONNS];
	int nrec, last_run;
	/* per connection: the keys it still has to check */
	struct { int rec; uint32_t seq, end; uint32_t sampled; } cur[MAX_CONNS];
	int next_rec;
	uint64_t rng;
};

struct client {
	struct options opt;
	struct conn c[MAX_CONNS];
	int nconns;
	/* load */
	uint32_t acked[MAX_CONNS];
	bool inflight[MAX_CONNS];
	/* verify */
	struct verify_plan *plan;
	uint64_t checked, violations, absent_inflight;
};

static int dial(const struct options *o)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(o->port) };
	int one = 1, fd;

	if (inet_pton(AF_INET, o->host, &a.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int err = -errno;

		close(fd);
		return err;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void build_request(struct conn *c)
{
	char key[64], body[MAX_BODY + 32];
	size_t blen;

	key_name(key, sizeof(key), c->job.run, c->job.conn, c->job.seq);
	if (c->job.post) {
		blen = body_of(key, body);
		c->req_len = snprintf(c->req, sizeof(c->req),
				      "POST /%s HTTP/1.1\r\nHost: pasted\r\n"
				      "Content-Length: %zu\r\n\r\n", key, blen);
		memcpy(c->req + c->req_len, body, blen);
		c->req_len += blen;
	} else {
		c->req_len = snprintf(c->req, sizeof(c->req),
				      "GET /%s HTTP/1.1\r\nHost: pasted\r\n\r\n",
				      key);
	}
	c->req_sent = 0;
	c->resp_len = 0;
	c->busy = true;
}

/*
 * A complete response in @c->resp: 1 with its status and body, 0 if more
 * bytes are needed, -EPROTO if it is not HTTP.
 */
static int parse_response(struct conn *c, int *status, const char **body,
			  size_t *blen)
{
	const char *end, *cl;
	size_t head, len = 0;

	end = memmem(c->resp, c->resp_len, "\r\n\r\n", 4);
	if (!end)
		return c->resp_len == sizeof(c->resp) ? -EPROTO : 0;
	head = end + 4 - c->resp;
	if (sscanf(c->resp, "HTTP/1.1 %d", status) != 1)
		return -EPROTO;
	cl = memmem(c->resp, head, "Content-Length:", 15);
	if (cl)
		len = strtoul(cl + 15, NULL, 10);
	if (len > sizeof(c->resp) - head)
		return -EPROTO;
	if (c->resp_len < head + len)
		return 0;
	if (c->resp_len != head + len)
		return -EPROTO;	/* we never pipeline */
	*body = c->resp + head;
	*blen = len;
	return 1;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A crash point for the flush-ordering checker: the TCG plugin recognises
 * this exact instruction (a NOP with "PAST" as displacement) and writes
 * its crash image when it executes. What is printed just before it is
 * exactly what was acknowledged at that instant.
 */
static void crash_point(struct client *cl, int id)
{
	int i;

	printf("CRASHPOINT %d", id);
	for (i = 0; i < cl->nconns; i++)
		printf(" %d:%u:%d", i, cl->acked[i], cl->inflight[i]);
	printf("\n");
	fflush(stdout);
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80, 0x50, 0x41, 0x53, 0x54"
			 ::: "memory");
}

typedef int (*next_job_fn)(struct client *cl, int i, struct job *job);
typedef int (*done_fn)(struct client *cl, int i, int status,
		       const char *body, size_t blen);

/* Drive every connection until next_job() says stop or @deadline passes. */
static int drive(struct client *cl, next_job_fn next_job, done_fn done,
		 long deadline, long kill_at)
{
	struct pollfd pfd[MAX_CONNS];
	int i, active, err;

	for (;;) {
		long now = now_ms();

		if (kill_at && now >= kill_at) {
			/* The power cut: nothing after this counts as acked
			 * unless it was already on its way to us. */
			if (kill(cl->opt.kill_pid, SIGKILL))
				return -errno;
			kill_at = 0;
			deadline = now + 2000;
		}
		if (deadline && now >= deadline)
			return 0;
		active = 0;
		for (i = 0; i < cl->nconns; i++) {
			struct conn *c = &cl->c[i];

			if (!c->busy && c->fd >= 0) {
				err = next_job(cl, i, &c->job);
				if (err < 0)
					return err;
				if (err == 0) {
					close(c->fd);
					c->fd = -1;
				} else {
					build_request(c);
				}
			}
			pfd[i].fd = c->fd;
			pfd[i].events = c->req_sent < c->req_len ? POLLOUT : POLLIN;
			active += c->fd >= 0;
		}
		if (!active)
			return 0;
		if (poll(pfd, cl->nconns, 50) < 0 && errno != EINTR)
			return -errno;
		for (i = 0; i < cl->nconns; i++) {
			struct conn *c = &cl->c[i];
			const char *body;
			int status, r;
			size_t blen;
			ssize_t n;

			if (c->fd < 0 || !pfd[i].revents)
				continue;
			if (c->req_sent < c->req_len) {
				n = send(c->fd, c->req + c->req_sent,
					 c->req_len - c->req_sent, MSG_NOSIGNAL);
				if (n < 0 && errno != EAGAIN && errno != EINTR)
					return -errno;
				if (n > 0)
					c->req_sent += n;
				continue;
			}
			n = recv(c->fd, c->resp + c->resp_len,
				 sizeof(c->resp) - c->resp_len, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0)
				return n ? -errno : -ECONNRESET;
			c->resp_len += n;
			r = parse_response(c, &status, &body, &blen);
			if (r < 0)
				return r;
			if (r == 0)
				continue;
			c->busy = false;
			err = done(cl, i, status, body, blen);
			if (err)
				return err;
		}
	}
}

/* ------------------------------------------------------------ load */

static int load_next(struct client *cl, int i, struct job *job)
{
	*job = (struct job){ .run = cl->opt.run, .conn = i,
			     .seq = cl->acked[i] + 1, .post = true };
	cl->inflight[i] = true;
	return 1;
}

static int load_done(struct client *cl, int i, int status, const char *body,
		     size_t blen)
{
	(void)body;
	(void)blen;
	if (status != 201) {
		fprintf(stderr, "crashload: POST k%d-%d-%u: status %d\n",
			cl->opt.run, i, cl->acked[i] + 1, status);
		return -EPROTO;
	}
	cl->acked[i]++;
	cl->inflight[i] = false;
	return 0;
}

static int load_done_markers(struct client *cl, int i, int status,
			     const char *body, size_t blen)
{
	static const int every = 97;	/* a prime: points land on all conns */
	uint64_t total = 0;
	int err, j;

	err = load_done(cl, i, status, body, blen);
	if (err)
		return err;
	for (j = 0; j < cl->nconns; j++)
		total += cl->acked[j];
	if (total % every == 0)
		crash_point(cl, (int)(total / every));
	return 0;
}

static int write_state(struct client *cl)
{
	FILE *f = fopen(cl->opt.state, "a");
	int i;

	if (!f)
		return -errno;
	for (i = 0; i < cl->nconns; i++)
		fprintf(f, "%d %d %u %d\n", cl->opt.run, i, cl->acked[i],
			cl->inflight[i]);
	if (fclose(f))
		return -errno;
	return 0;
}

static int do_load(struct client *cl)
{
	long start, deadline = 0, kill_at = 0;
	uint64_t total = 0;
	int i, err;

	/* Dial first: QEMU's port forward listens with a backlog of one, so
	 * connecting can take seconds of SYN retries. */
	for (i = 0; i < cl->nconns; i++)
		cl->c[i].fd = -1;
	for (i = 0; i < cl->nconns; i++) {
		cl->c[i].fd = dial(&cl->opt);
		if (cl->c[i].fd < 0)
			return cl->c[i].fd;
	}
	start = now_ms();
	if (cl->opt.kill_pid)
		kill_at = start + cl->opt.kill_after_ms;
	if (cl->opt.duration_ms)
		deadline = start + cl->opt.duration_ms;
	err = drive(cl, load_next,
		    cl->opt.markers ? load_done_markers : load_done,
		    deadline, kill_at);
	/* A reset after the power cut is expected. */
	if (cl->opt.kill_pid && (err == -ECONNRESET || err == -EPIPE))
		err = 0;
	for (i = 0; i < cl->nconns; i++) {
		if (cl->c[i].fd >= 0)
			close(cl->c[i].fd);
		total += cl->acked[i];
	}
	if (err)
		return err;
	printf("crashload: run %d: %llu POSTs acknowledged over %d connections in %ld ms\n",
	       cl->opt.run, (unsigned long long)total, cl->nconns,
	       now_ms() - start);
	return write_state(cl);
}

/* ------------------------------------------------------------ verify */

static int load_state(struct client *cl, struct verify_plan *p)
{
	FILE *f = fopen(cl->opt.state, "r");
	struct record r;

	if (!f)
		return -errno;
	p->nrec = 0;
	p->last_run = -1;
	while (fscanf(f, "%d %d %u %d", &r.run, &r.conn, &r.acked,
		      &r.inflight) == 4) {
		if (p->nrec == (int)(sizeof(p->rec) / sizeof(p->rec[0])) ||
		    r.conn < 0 || r.conn >= MAX_CONNS) {
			fclose(f);
			return -E2BIG;
		}
		p->rec[p->nrec++] = r;
		if (r.run > p->last_run)
			p->last_run = r.run;
	}
	fclose(f);
	return 0;
}

/*
 * Which keys a record asks for: the whole run for the latest run, a random
 * sample of older runs; then the in-flight key and the first never-sent
 * key. seq runs over 1..acked, then acked+1 (in flight or never sent).
 */
static int verify_next(struct client *cl, int i, struct job *job)
{
	struct verify_plan *p = cl->plan;

	for (;;) {
		struct record *r;

		if (p->cur[i].rec < 0) {
			if (p->next_rec == p->nrec)
				return 0;
			p->cur[i].rec = p->next_rec++;
			p->cur[i].seq = 0;
			p->cur[i].sampled = 0;
		}
		r = &p->rec[p->cur[i].rec];
		if (r->run == p->last_run || (uint32_t)cl->opt.sample >= r->acked) {
			if (++p->cur[i].seq <= r->acked + 1)
				break;
		} else if (p->cur[i].sampled < (uint32_t)cl->opt.sample) {
			p->cur[i].sampled++;
			p->cur[i].seq = 1 + xorshift(&p->rng) % r->acked;
			break;
		} else if (p->cur[i].seq <= r->acked) {
			p->cur[i].seq = r->acked + 1;
			break;
		}
		p->cur[i].rec = -1;
	}
	*job = (struct job){ .run = p->rec[p->cur[i].rec].run,
			     .conn = p->rec[p->cur[i].rec].conn,
			     .seq = p->cur[i].seq, .post = false };
	return 1;
}

static int verify_done(struct client *cl, int i, int status, const char *body,
		       size_t blen)
{
	struct verify_plan *p = cl->plan;
	struct record *r = &p->rec[p->cur[i].rec];
	struct job *job = &cl->c[i].job;
	char key[64], want[MAX_BODY + 32];
	bool acked = job->seq <= r->acked;
	size_t wlen;

	key_name(key, sizeof(key), job->run, job->conn, job->seq);
	wlen = body_of(key, want);
	cl->checked++;
	if (status == 200 && blen == wlen && !memcmp(body, want, wlen))
		return 0;
	if (status == 404 && !acked) {
		cl->absent_inflight += r->inflight;
		return 0;
	}
	cl->violations++;
	if (status == 404)
		printf("VIOLATION %s: acknowledged, but absent after the cut\n", key);
	else if (status != 200)
		printf("VIOLATION %s: status %d\n", key, status);
	else if (!acked && !r->inflight)
		printf("VIOLATION %s: never sent, but present\n", key);
	else
		printf("VIOLATION %s: %zu-byte value, want %zu bytes (%s)\n", key,
		       blen, wlen, body_self_consistent(body, blen) ?
		       "another complete value" : "torn or mixed");
	return cl->violations > 20 ? -EIO : 0;
}

static int do_verify(struct client *cl)
{
	struct verify_plan *p = cl->plan = calloc(1, sizeof(*p));
	int i, err;

	if (!p)
		return -ENOMEM;
	err = load_state(cl, p);
	if (err)
		return err;
	p->rng = cl->opt.seed | 1;
	p->next_rec = 0;
	for (i = 0; i < cl->nconns; i++) {
		p->cur[i].rec = -1;
		cl->c[i].fd = dial(&cl->opt);
		if (cl->c[i].fd < 0)
			return cl->c[i].fd;
	}
	err = drive(cl, verify_next, verify_done, 0, 0);
	for (i = 0; i < cl->nconns; i++)
		if (cl->c[i].fd >= 0)
			close(cl->c[i].fd);
	printf("crashload: verified %llu keys of %d runs: %llu violations, %llu in-flight POSTs absent\n",
	       (unsigned long long)cl->checked, p->last_run + 1,
	       (unsigned long long)cl->violations,
	       (unsigned long long)cl->absent_inflight);
	if (err)
		return err;
	return cl->violations ? -EIO : 0;
}

/* ------------------------------------------------------------ main */

/* Wait until the server answers (a GET of a key nobody stores). */
static int wait_ready(struct client *cl, int timeout_s)
{
	long end = now_ms() + timeout_s * 1000L;
	static const char req[] = "GET /crashload-ready HTTP/1.1\r\nHost: pasted\r\n\r\n";
	char buf[512];

	while (now_ms() < end) {
		int fd = dial(&cl->opt);

		if (fd >= 0) {
			struct timeval tv = { .tv_sec = 5 };
			ssize_t n;

			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			n = send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) > 0 ?
			    recv(fd, buf, sizeof(buf) - 1, 0) : -1;
			close(fd);
			if (n > 12 && !memcmp(buf, "HTTP/1.1 404", 12))
				return 0;
		}
		usleep(200 * 1000);
	}
	return -ETIMEDOUT;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: crashload load|verify|ready [options]\n"
"  -H, --host ADDR       server address (127.0.0.1)\n"
"  -p, --port PORT       server port (8080)\n"
"  -c, --conns N         connections (8, at most 64)\n"
"  -r, --run N           run number, part of every key (load)\n"
"  -o, --state FILE      acknowledgement record (appended by load)\n"
"  -k, --kill-pid PID    load: SIGKILL this process (QEMU) ...\n"
"  -t, --kill-after MS   ... this many ms after the load starts\n"
"  -d, --duration MS     load: stop after this many ms\n"
"  -x, --markers         load: mark crash points for the checker\n"
"  -n, --sample N        verify: keys sampled per older run (200)\n"
"  -s, --seed N          verify: sampling seed\n"
"  -w, --wait S          ready: seconds to wait for the server (300)\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'c' },
		{ "run", required_argument, NULL, 'r' },
		{ "state", required_argument, NULL, 'o' },
		{ "kill-pid", required_argument, NULL, 'k' },
		{ "kill-after", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "markers", no_argument, NULL, 'x' },
		{ "sample", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct client cl;
	int opt, err, wait_s = 300;
	const char *cmd;

	cl.opt = (struct options){ .host = "127.0.0.1", .port = 8080,
				   .conns = 8, .sample = 200, .seed = 1 };
	while ((opt = getopt_long(argc, argv, "H:p:c:r:o:k:t:d:xn:s:w:h", lopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'H': cl.opt.host = optarg; break;
		case 'p': cl.opt.port = atoi(optarg); break;
		case 'c': cl.opt.conns = atoi(optarg); break;
		case 'r': cl.opt.run = atoi(optarg); break;
		case 'o': cl.opt.state = optarg; break;
		case 'k': cl.opt.kill_pid = atoi(optarg); break;
		case 't': cl.opt.kill_after_ms = atoi(optarg); break;
		case 'd': cl.opt.duration_ms = atoi(optarg); break;
		case 'x': cl.opt.markers = 1; break;
		case 'n': cl.opt.sample = atoi(optarg); break;
		case 's': cl.opt.seed = strtoull(optarg, NULL, 0); break;
		case 'w': wait_s = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || cl.opt.conns < 1 || cl.opt.conns > MAX_CONNS) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	cl.nconns = cl.opt.conns;
	if (!strcmp(cmd, "ready")) {
		err = wait_ready(&cl, wait_s);
	} else if (!cl.opt.state) {
		fprintf(stderr, "crashload: %s needs --state\n", cmd);
		return 2;
	} else if (!strcmp(cmd, "load")) {
		err = do_load(&cl);
	} else if (!strcmp(cmd, "verify")) {
		err = do_verify(&cl);
	} else {
		usage(stderr);
		return 2;
	}
	if (err && err != -EIO)
		fprintf(stderr, "crashload %s: %s\n", cmd, strerror(-err));
	return err ? 1 : 0;
}
