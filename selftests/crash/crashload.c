// SPDX-License-Identifier: GPL-2.0
/*
 * crashload: the client side of the power-cut tests.
 *
 *   crashload load   POSTs checksummed, versioned values over N connections
 *                    and records what was acknowledged; it cuts the power
 *                    (SIGKILL to QEMU) at a chosen moment, or marks crash
 *                    points for the flush-ordering checker.
 *   crashload verify GETs what earlier runs recorded and checks that the
 *                    server's state is one the acknowledgements allow.
 *
 * Each connection of run R sends requests numbered 1, 2, ... in batches
 * that a seed-free function of (R, connection, batch) shapes, so that
 * verify can rebuild them:
 *
 *   - a batch is 1..PIPELINE requests sent back to back (pipelined);
 *   - request n writes "kR-C-n" (unique keys), or with --keys K one of K
 *     keys "kR-C-sS" that the connection keeps overwriting;
 *   - the value of request n starts "v<n>." and ends in "#" and a hash of
 *     what precedes it, so a value names its version and a torn or mixed
 *     one is recognised.
 *
 * --hostile adds what real and hostile clients do: writes cut at random
 * sizes (down to one byte), a stray CRLF before a request, bodies up to
 * pasted's limit (16 KiB), a connection closed after an answered batch
 * with one more CRLF queued behind it, and batches abandoned mid-stream
 * (closed after a random number of bytes, possibly inside a request).
 * An abandoned batch writes keys of its own ("kR-C-xN"), since the server
 * may still apply it after requests sent later on another connection.
 *
 * A server may refuse a write with 503 (it cannot make it durable now,
 * e.g. while its checkpoints fail) and close the connection: that write
 * and the rest of its batch must not be applied.
 *
 * --resp speaks RESP to Redis (appendfsync paste) instead: a request is
 * "SET key value", or "HSET key f value" for the keys hash_key() picks
 * (the same command for every write of a key); "+OK" or an integer reply
 * acknowledges it, and verify reads with GET or HGET. With --keys, op_of()
 * also makes some requests "INCR" of the slot's counter key ("...-sS.n"),
 * or "DEL" of its value or counter key: a counter replayed twice or lost
 * shows as a count no prefix of the requests leaves.
 *
 * A run is recorded as one line per connection:
 *
 *   <run> <conn> <acked> <sent> <keys> <pipeline> <hostile> <refused>
 *
 * Requests 1..acked were answered (or abandoned); acked+1..sent were sent
 * and not answered. <refused> lists the answered ones refused with 503,
 * as ranges "a-b,c-d" ("-": none) that may span abandoned requests. After a power cut, the connection's
 * keys must be what applying requests 1..p, less the refused ones, leaves,
 * for some p in [acked, sent]: no acknowledged write lost or rolled back,
 * none applied out of order, no value torn, no refused write applied. An
 * abandoned request's key is absent or exact. One thread drives every
 * connection with poll(), so the record is exact at any instant, which
 * the crash-point markers rely on.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"

#define MAX_CONNS	64
#define MAX_RUNS	256
#define MAX_KEYS	64
#define MAX_PIPELINE	16
#define MAX_BODY	16384	/* pasted's HTTP_MAX_BODY */
#define SMALL_BODY	4000
#define REQ_CAP		(MAX_PIPELINE * (MAX_BODY + 256))
#define RESP_CAP	(MAX_BODY + 4096)
#define MAX_REFUSED	64	/* ranges of refused requests per connection */
#define REFUSED_CAP	(MAX_REFUSED * 24)

struct options {
	const char *host;
	int port;
	int conns;
	int run;
	int keys;		/* 0: unique keys */
	int pipeline;
	bool hostile;
	uint64_t seed;
	int kill_pid;
	int kill_after_ms;
	int duration_ms;
	int markers;		/* crash points for the checker */
	int min_points;		/* load past the duration until this many */
	int sample;		/* verify: keys sampled from older runs */
	const char *state;
	bool resp;		/* Redis: RESP instead of HTTP */
};

/* ------------------------------------------------------------ schedule */

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

static uint64_t mix(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t x = a * 0x9e3779b97f4a7c15ULL ^ b * 0xbf58476d1ce4e5b9ULL ^
		     c * 0x94d049bb133111ebULL;

	x ^= x >> 31;
	x *= 0xd6e8feb86659fd39ULL;
	return x ^ (x >> 29);
}

/* What verify needs to rebuild one connection's requests. */
struct stream {
	int run, conn, keys, pipeline;
	bool hostile, resp;
};

struct batch {
	uint32_t first, n;	/* requests first..first+n-1 */
	bool abandoned;		/* closed after a random number of bytes */
	bool close_after;	/* answered, then CRLF and close */
};

/* Batch @j, whose first request is @first. */
static struct batch batch_of(const struct stream *st, uint32_t j, uint32_t first)
{
	uint64_t h = mix(st->run, st->conn, j);
	struct batch b = { .first = first, .n = 1 + h % st->pipeline };

	if (st->hostile) {
		b.abandoned = (h >> 16) % 16 == 0;
		b.close_after = !b.abandoned && (h >> 24) % 12 == 0;
	}
	return b;
}

/* Key of request @n; @abandoned: in an abandoned batch. */
static void key_of(const struct stream *st, uint32_t n, bool abandoned,
		   char *buf, size_t cap)
{
	if (abandoned)
		snprintf(buf, cap, "k%d-%d-x%u", st->run, st->conn, n);
	else if (st->keys)
		snprintf(buf, cap, "k%d-%d-s%u", st->run, st->conn,
			 (unsigned int)(mix(st->run, st->conn, n + (1ULL << 40)) %
					st->keys));
	else
		snprintf(buf, cap, "k%d-%d-%u", st->run, st->conn, n);
}

/* What a request does to its overwrite slot. */
enum op { OP_WRITE, OP_INCR, OP_DEL_VALUE, OP_DEL_COUNTER };

/* Request @n's: HTTP and unique keys only write; RESP slots mix in more. */
static enum op op_of(const struct stream *st, uint32_t n)
{
	uint64_t h;

	if (!st->resp || !st->keys)
		return OP_WRITE;
	h = mix(st->run, st->conn, n + (2ULL << 40)) % 10;
	return h < 5 ? OP_WRITE : h < 8 ? OP_INCR :
	       h < 9 ? OP_DEL_VALUE : OP_DEL_COUNTER;
}

/* The counter key of overwrite slot @s, which INCR counts in. */
static void counter_key(const struct stream *st, unsigned int s, char *buf,
			size_t cap)
{
	snprintf(buf, cap, "k%d-%d-s%u.n", st->run, st->conn, s);
}

/* RESP: the keys written with HSET (field "f") rather than SET. */
static bool hash_key(const char *key)
{
	return fnv1a(key, strlen(key)) % 3 == 0;
}

/* Overwrite key slot of request @n (keys > 0, not abandoned). */
static unsigned int slot_of(const struct stream *st, uint32_t n)
{
	return mix(st->run, st->conn, n + (1ULL << 40)) % st->keys;
}

/*
 * The value request @n writes to @key: "v<n>.", printable bytes, "#" and
 * the FNV-1a hash of what precedes it. Hostile streams sometimes send
 * bodies up to MAX_BODY.
 */
static size_t body_of(const struct stream *st, const char *key, uint32_t n,
		      char *out)
{
	uint64_t x = mix(fnv1a(key, strlen(key)), n, 7) | 1;
	size_t max = st->hostile && xorshift(&x) % 16 == 0 ? MAX_BODY : SMALL_BODY;
	size_t len = 16 + xorshift(&x) % (max - 16 - 17 + 1);
	size_t i = snprintf(out, 16, "v%u.", n);

	for (; i < len; i++)
		out[i] = 'a' + xorshift(&x) % 26;
	out[len] = '#';
	snprintf(out + len + 1, 17, "%016llx",
		 (unsigned long long)fnv1a(out, len));
	return len + 17;
}

/* The version a value names, or 0 if it is not a complete value. */
static uint32_t version_of(const char *b, size_t n)
{
	char want[17];

	if (n < 18 || b[n - 17] != '#' || b[0] != 'v')
		return 0;
	snprintf(want, sizeof(want), "%016llx",
		 (unsigned long long)fnv1a(b, n - 17));
	if (memcmp(want, b + n - 16, 16))
		return 0;
	return strtoul(b + 1, NULL, 10);
}

/* ------------------------------------------------------------ connections */

struct conn {
	int fd;
	bool busy;
	uint32_t next_batch;
	struct batch b;
	uint32_t answered;
	char *req;
	size_t req_len, req_sent, send_limit;
	char resp[RESP_CAP];
	size_t resp_len;
};

/* Requests a..b, refused with 503. */
struct range {
	uint32_t a, b;
};

struct record {
	int run, conn;
	uint32_t acked, sent;
	int keys, pipeline, hostile;
	unsigned int nrefused;
	struct range refused[MAX_REFUSED];
};

struct client {
	struct options opt;
	struct conn c[MAX_CONNS];
	int nconns;
	uint64_t rng;		/* segmentation and cut points: not replayed */
	bool killed;
	char body[MAX_BODY + 32];
	/* load */
	uint32_t acked[MAX_CONNS], sent[MAX_CONNS];
	struct range refused[MAX_CONNS][MAX_REFUSED];
	unsigned int nrefused[MAX_CONNS];
	uint32_t unacked_to[MAX_CONNS];	/* refused or abandoned since a 201 */
	uint64_t requests, stray, abandoned, reconnects, refusals;
	uint64_t marked;	/* crash points: multiples of 97 passed */
	int points;
	/* verify */
	uint64_t checked, violations;
};

static struct stream stream_of(const struct options *o, int conn)
{
	return (struct stream){ .run = o->run, .conn = conn, .keys = o->keys,
				.pipeline = o->pipeline, .hostile = o->hostile,
				.resp = o->resp };
}

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

/* Queue the next batch of connection @i. */
static void start_batch(struct client *cl, int i)
{
	struct stream st = stream_of(&cl->opt, i);
	struct conn *c = &cl->c[i];
	char key[64], *p = c->req;
	uint32_t k;

	c->b = batch_of(&st, c->next_batch++, cl->sent[i] + 1);
	for (k = 0; k < c->b.n; k++) {
		uint32_t n = c->b.first + k;
		size_t blen;

		if (st.hostile && xorshift(&cl->rng) % 8 == 0) {
			memcpy(p, "\r\n", 2);
			p += 2;
			cl->stray++;
		}
		key_of(&st, n, c->b.abandoned, key, sizeof(key));
		if (!c->b.abandoned && op_of(&st, n) != OP_WRITE) {
			enum op op = op_of(&st, n);

			if (op != OP_DEL_VALUE)
				counter_key(&st, slot_of(&st, n), key, sizeof(key));
			p += sprintf(p, "*2\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n",
				     op == OP_INCR ? 4 : 3,
				     op == OP_INCR ? "INCR" : "DEL", strlen(key), key);
			continue;
		}
		blen = body_of(&st, key, n, cl->body);
		if (!cl->opt.resp)
			p += sprintf(p, "POST /%s HTTP/1.1\r\nHost: pasted\r\n"
				     "Content-Length: %zu\r\n\r\n", key, blen);
		else if (hash_key(key))
			p += sprintf(p, "*4\r\n$4\r\nHSET\r\n$%zu\r\n%s\r\n"
				     "$1\r\nf\r\n$%zu\r\n", strlen(key), key, blen);
		else
			p += sprintf(p, "*3\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n"
				     "$%zu\r\n", strlen(key), key, blen);
		memcpy(p, cl->body, blen);
		p += blen;
		if (cl->opt.resp) {
			memcpy(p, "\r\n", 2);
			p += 2;
		}
	}
	c->req_len = p - c->req;
	c->req_sent = 0;
	c->send_limit = c->req_len;
	if (c->b.abandoned) {
		c->send_limit = xorshift(&cl->rng) % c->req_len + 1;
		cl->abandoned++;
	}
	c->resp_len = 0;
	c->answered = 0;
	c->busy = true;
	cl->sent[i] = c->b.first + c->b.n - 1;
	cl->requests += c->b.n;
}

/* How many bytes the next send() of a hostile client writes. */
static size_t segment(struct client *cl, size_t left)
{
	uint64_t r = xorshift(&cl->rng);

	if (!cl->opt.hostile)
		return left;
	switch (r % 4) {
	case 0:
		r = 1 + (r >> 8) % 16;		/* a few bytes */
		break;
	case 1:
		r = 1 + (r >> 8) % 1500;	/* about a segment */
		break;
	default:
		return left;
	}
	return r < left ? r : left;
}

/*
 * One RESP reply at the start of @buf, as an HTTP status: "+..." or an
 * integer 201, a bulk string 200 (its bytes the body), a nil bulk 404, an
 * error 500. Return: its length, 0 if incomplete, or -EPROTO.
 */
static int resp_reply_parse(const char *buf, size_t len, int *status,
			    size_t *body_off, size_t *blen)
{
	const char *eol = memmem(buf, len, "\r\n", 2);
	size_t head;
	long n;

	if (!eol)
		return len >= RESP_CAP ? -EPROTO : 0;
	head = eol + 2 - buf;
	*body_off = 1;
	*blen = head - 3;
	switch (buf[0]) {
	case '+':
	case ':':
		*status = 201;
		return head;
	case '-':
		*status = 500;
		return head;
	case '$':
		n = strtol(buf + 1, NULL, 10);
		if (n < 0) {
			*status = 404;
			*blen = 0;
			return head;
		}
		if ((size_t)n > RESP_CAP - head - 2)
			return -EPROTO;
		if (len < head + n + 2)
			return 0;
		*status = 200;
		*body_off = head;
		*blen = n;
		return head + n + 2;
	default:
		return -EPROTO;
	}
}

/* One complete response at the start of @buf: see http_response_parse(). */
static int parse_response(const struct client *cl, const char *buf, size_t len,
			  int *status, const char **body, size_t *blen)
{
	size_t off = 0;
	int r = cl->opt.resp ? resp_reply_parse(buf, len, status, &off, blen) :
		http_response_parse(buf, len, RESP_CAP, status, &off, blen);

	if (r > 0)
		*body = buf + off;
	return r;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connection @i's refused requests as "a-b,c-d", or "-": @buf. */
static const char *refused_list(const struct client *cl, int i, char *buf)
{
	size_t len = 0;
	unsigned int k;

	buf[0] = '-';
	buf[1] = 0;
	for (k = 0; k < cl->nrefused[i]; k++)
		len += snprintf(buf + len, REFUSED_CAP - len, "%s%u-%u",
				k ? "," : "", cl->refused[i][k].a,
				cl->refused[i][k].b);
	return buf;
}

/*
 * A crash point for the flush-ordering checker: the TCG plugin recognises
 * this exact instruction (a NOP with "PAST" as displacement) and writes
 * its crash image when it executes. What is printed just before it, the
 * state-file record with ':' for ' ', is what was acknowledged then.
 */
static void crash_point(struct client *cl, int id)
{
	char refused[REFUSED_CAP];
	int i;

	printf("CRASHPOINT %d", id);
	for (i = 0; i < cl->nconns; i++)
		printf(" %d:%d:%u:%u:%d:%d:%d:%s", cl->opt.run, i, cl->acked[i],
		       cl->sent[i], cl->opt.keys, cl->opt.pipeline,
		       cl->opt.hostile, refused_list(cl, i, refused));
	printf("\n");
	fflush(stdout);
	/* On the console, let the line out before the plugin speaks. */
	tcdrain(STDOUT_FILENO);
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80, 0x50, 0x41, 0x53, 0x54"
			 ::: "memory");
}

/*
 * A crash point each time the acknowledged total passes a multiple of 97
 * (a prime: points land on all connections). Abandoned batches move the
 * total by more than one; the points are numbered as the plugin counts
 * them, one per marker executed.
 */
static void maybe_crash_point(struct client *cl)
{
	static const uint64_t every = 97;
	uint64_t total = 0;
	int j;

	if (!cl->opt.markers)
		return;
	for (j = 0; j < cl->nconns; j++)
		total += cl->acked[j];
	if (total / every > cl->marked) {
		cl->marked = total / every;
		crash_point(cl, ++cl->points);
	}
}

/* Close connection @i and dial again. */
static int redial(struct client *cl, int i)
{
	close(cl->c[i].fd);
	cl->c[i].fd = dial(&cl->opt);
	cl->reconnects++;
	return cl->c[i].fd < 0 ? cl->c[i].fd : 0;
}

/*
 * Request @n of connection @i was refused (503). Nothing but refused and
 * abandoned requests since the last range: it grows to @n.
 */
static int refused(struct client *cl, int i, uint32_t n)
{
	struct range *r = cl->nrefused[i] ? &cl->refused[i][cl->nrefused[i] - 1] :
			  NULL;

	cl->refusals++;
	if (r && cl->unacked_to[i] + 1 == n) {
		r->b = cl->unacked_to[i] = n;
		return 0;
	}
	cl->unacked_to[i] = n;
	if (cl->nrefused[i] == MAX_REFUSED) {
		fprintf(stderr, "crashload: conn %d: more than %d runs of refused requests\n",
			i, MAX_REFUSED);
		return -E2BIG;
	}
	cl->refused[i][cl->nrefused[i]++] = (struct range){ n, n };
	return 0;
}

/*
 * A 201 for the next request of connection @i; or a refusal (503), after
 * which the server handles nothing more of the connection: the rest of the
 * batch is refused too, and 1 says to dial again.
 */
static int acknowledged(struct client *cl, int i, int status)
{
	struct conn *c = &cl->c[i];
	uint32_t n = c->b.first + c->answered;
	int err = 0;

	if (status == 503) {
		/* An abandoned batch's keys are its own: absent or exact. */
		for (; !c->b.abandoned && c->answered < c->b.n && !err;
		     c->answered++)
			err = refused(cl, i, c->b.first + c->answered);
		if (c->b.abandoned && cl->unacked_to[i] + 1 == c->b.first)
			cl->unacked_to[i] = cl->sent[i];
		cl->acked[i] = cl->sent[i];
		maybe_crash_point(cl);
		return err ? err : 1;
	}
	if (status != 201) {
		fprintf(stderr, "crashload: request %u of run %d conn %d: status %d\n",
			n, cl->opt.run, i, status);
		return -EPROTO;
	}
	c->answered++;
	cl->acked[i]++;
	maybe_crash_point(cl);
	return 0;
}

/* Send what connection @i may send now. */
static int conn_send(struct client *cl, int i)
{
	struct conn *c = &cl->c[i];
	ssize_t n = send(c->fd, c->req + c->req_sent,
			 segment(cl, c->send_limit - c->req_sent), MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0 && errno != EPIPE && errno != ECONNRESET)
		return -errno;
	if (n < 0) {
		/* Closed after a refusal? Its answers are still to read. */
		c->send_limit = c->req_sent;
		n = 0;
	}
	c->req_sent += n;
	if (c->b.abandoned && c->req_sent == c->send_limit) {
		/* Nothing of it was acknowledged; none of it ever will be. */
		if (cl->unacked_to[i] + 1 == c->b.first)
			cl->unacked_to[i] = cl->sent[i];
		cl->acked[i] = cl->sent[i];
		c->busy = false;
		maybe_crash_point(cl);
		return redial(cl, i);
	}
	return 0;
}

/* Read and account the responses that arrived on connection @i. */
static int conn_recv(struct client *cl, int i)
{
	struct conn *c = &cl->c[i];
	const char *body;
	size_t blen;
	int status, r, err;
	ssize_t n;

	n = recv(c->fd, c->resp + c->resp_len, sizeof(c->resp) - c->resp_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0)
		return n ? -errno : -ECONNRESET;
	c->resp_len += n;
	while ((r = parse_response(cl, c->resp, c->resp_len, &status, &body,
				   &blen)) > 0) {
		if (c->answered == c->b.n)
			return -EPROTO;		/* an answer nobody asked for */
		err = acknowledged(cl, i, status);
		if (err > 0) {
			c->busy = false;
			return redial(cl, i);
		}
		if (err)
			return err;
		memmove(c->resp, c->resp + r, c->resp_len - r);
		c->resp_len -= r;
	}
	if (r < 0)
		return r;
	if (c->answered < c->b.n)
		return 0;
	c->busy = false;
	if (!c->b.close_after)
		return 0;
	/* Bytes behind the last request, then a close. */
	if (send(c->fd, "\r\n", 2, MSG_NOSIGNAL) < 0)
		return -errno;
	return redial(cl, i);
}

/*
 * Whether to go on past the deadline: fewer crash points than asked for,
 * and less than three more durations spent waiting for them.
 */
static bool want_more_points(const struct client *cl, long now, long deadline)
{
	return !cl->killed && cl->points < cl->opt.min_points &&
	       now < deadline + 3L * cl->opt.duration_ms;
}

/* Drive every connection until @deadline passes. */
static int drive(struct client *cl, long deadline, long kill_at)
{
	struct pollfd pfd[MAX_CONNS];
	int i, err;

	for (;;) {
		long now = now_ms();

		if (kill_at && now >= kill_at) {
			/* The power cut: nothing after this counts as acked
			 * unless it was already on its way to us. */
			if (kill(cl->opt.kill_pid, SIGKILL))
				return -errno;
			cl->killed = true;
			kill_at = 0;
			deadline = now + 2000;
		}
		if (deadline && now >= deadline && !want_more_points(cl, now, deadline))
			return 0;
		for (i = 0; i < cl->nconns; i++) {
			struct conn *c = &cl->c[i];

			if (!c->busy && !cl->killed)
				start_batch(cl, i);
			pfd[i].fd = c->fd;
			pfd[i].events = POLLIN;
			if (c->req_sent < c->send_limit)
				pfd[i].events |= POLLOUT;
		}
		if (poll(pfd, cl->nconns, 50) < 0 && errno != EINTR)
			return -errno;
		for (i = 0; i < cl->nconns; i++) {
			short ev = pfd[i].revents;

			err = 0;
			if (ev & POLLOUT)
				err = conn_send(cl, i);
			else if (ev & (POLLIN | POLLHUP | POLLERR))
				err = conn_recv(cl, i);
			if (err)
				return err;
		}
	}
}

/* ------------------------------------------------------------ load */

static int write_state(struct client *cl)
{
	FILE *f = fopen(cl->opt.state, "a");
	char refused[REFUSED_CAP];
	int i;

	if (!f)
		return -errno;
	for (i = 0; i < cl->nconns; i++)
		fprintf(f, "%d %d %u %u %d %d %d %s\n", cl->opt.run, i,
			cl->acked[i], cl->sent[i], cl->opt.keys,
			cl->opt.pipeline, cl->opt.hostile,
			refused_list(cl, i, refused));
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
		cl->c[i].req = malloc(REQ_CAP);
		if (!cl->c[i].req)
			return -ENOMEM;
		cl->c[i].fd = dial(&cl->opt);
		if (cl->c[i].fd < 0)
			return cl->c[i].fd;
	}
	start = now_ms();
	if (cl->opt.kill_pid)
		kill_at = start + cl->opt.kill_after_ms;
	if (cl->opt.duration_ms)
		deadline = start + cl->opt.duration_ms;
	err = drive(cl, deadline, kill_at);
	/* After the power cut, a reset or refusal is expected. */
	if (cl->killed)
		err = 0;
	for (i = 0; i < cl->nconns; i++) {
		if (cl->c[i].fd >= 0)
			close(cl->c[i].fd);
		free(cl->c[i].req);
		total += cl->acked[i];
	}
	if (err)
		return err;
	printf("crashload: run %d: %llu requests answered or abandoned over %d connections in %ld ms (%llu sent, %llu refused with 503, %llu abandoned batches, %llu stray CRLFs, %llu reconnects; keys %d, pipeline %d%s)\n",
	       cl->opt.run, (unsigned long long)total, cl->nconns,
	       now_ms() - start, (unsigned long long)cl->requests,
	       (unsigned long long)cl->refusals,
	       (unsigned long long)cl->abandoned,
	       (unsigned long long)cl->stray,
	       (unsigned long long)cl->reconnects, cl->opt.keys,
	       cl->opt.pipeline, cl->opt.hostile ? ", hostile" : "");
	return write_state(cl);
}

/* ------------------------------------------------------------ verify */

/*
 * GET (or HGET) @key over @fd. Return: 1 with its @body when present, 0
 * when absent, or < 0 (-EPROTO for any other answer).
 */
static int fetch(struct client *cl, int fd, const char *key, bool hash,
		 const char **body, size_t *blen)
{
	struct conn *c = &cl->c[0];
	char req[256];
	size_t len;
	int r, status;

	if (!cl->opt.resp)
		len = snprintf(req, sizeof(req),
			       "GET /%s HTTP/1.1\r\nHost: pasted\r\n\r\n", key);
	else if (hash)
		len = snprintf(req, sizeof(req),
			       "*3\r\n$4\r\nHGET\r\n$%zu\r\n%s\r\n$1\r\nf\r\n",
			       strlen(key), key);
	else
		len = snprintf(req, sizeof(req), "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n",
			       strlen(key), key);
	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -EIO;
	c->resp_len = 0;
	while ((r = parse_response(cl, c->resp, c->resp_len, &status, body,
				   blen)) == 0) {
		ssize_t n = recv(fd, c->resp + c->resp_len,
				 sizeof(c->resp) - c->resp_len, 0);

		if (n <= 0)
			return -EIO;
		c->resp_len += n;
	}
	if (r < 0 || (size_t)r != c->resp_len)
		return -EPROTO;
	cl->checked++;
	return status == 200 ? 1 : status == 404 ? 0 : -EPROTO;
}

/* GET @key over @fd: its version (0 absent), or < 0. */
static long get_version(struct client *cl, int fd, const char *key,
			const struct stream *st, uint32_t *torn_n)
{
	char want[MAX_BODY + 32];
	const char *body;
	size_t blen;
	uint32_t v;
	int r;

	*torn_n = 0;
	r = fetch(cl, fd, key, cl->opt.resp && hash_key(key), &body, &blen);
	if (r <= 0)
		return r;
	v = version_of(body, blen);
	if (!v || blen != body_of(st, key, v, want) || memcmp(body, want, blen)) {
		*torn_n = blen;
		return -EBADMSG;
	}
	return v;
}

static int violation(struct client *cl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int violation(struct client *cl, const char *fmt, ...)
{
	va_list ap;

	cl->violations++;
	printf("VIOLATION ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return cl->violations > 20 ? -EIO : 0;
}

/* The version of @key, with a violation for a torn value. */
static long observe(struct client *cl, int fd, const struct stream *st,
		    const char *key)
{
	uint32_t torn;
	long v = get_version(cl, fd, key, st, &torn);

	if (v == -EBADMSG) {
		int err = violation(cl, "%s: %u-byte value that no request wrote (torn or mixed)",
				    key, torn);

		return err ? err : -EBADMSG;
	}
	return v;
}

/* A counter key's count (0 absent), or < 0: a non-number is a violation. */
static long observe_counter(struct client *cl, int fd, const char *key)
{
	char digits[24];
	const char *body;
	size_t blen;
	int r = fetch(cl, fd, key, false, &body, &blen);

	if (r <= 0)
		return r;
	if (!blen || blen >= sizeof(digits) || strspn(body, "0123456789") < blen) {
		r = violation(cl, "%s: \"%.*s\" is no count", key, (int)blen, body);
		return r ? r : -EBADMSG;
	}
	memcpy(digits, body, blen);
	digits[blen] = 0;
	return strtol(digits, NULL, 10);
}

#define ABANDONED	(-1)
#define REFUSED		(-2)

/*
 * The requests 1..@r->sent of a record, as written by batch_of(): for each
 * request, its overwrite slot (keys > 0), or ABANDONED, or REFUSED.
 * NULL on allocation failure.
 */
static int *replay(const struct stream *st, const struct record *r)
{
	int *what = calloc(r->sent + 1, sizeof(*what));
	uint32_t j = 0, n = 0, k, p;

	if (!what)
		return NULL;
	while (n < r->sent) {
		struct batch b = batch_of(st, j++, n + 1);

		for (k = 0; k < b.n && b.first + k <= r->sent; k++)
			what[b.first + k] = b.abandoned ? ABANDONED :
					    st->keys ? (int)slot_of(st, b.first + k) : 0;
		n = b.first + b.n - 1;
	}
	for (k = 0; k < r->nrefused; k++)
		for (p = r->refused[k].a; p <= r->refused[k].b && p <= r->sent; p++)
			if (what[p] != ABANDONED)
				what[p] = REFUSED;
	return what;
}

/* An abandoned request @p's own key: absent or exactly its value. */
static int verify_abandoned(struct client *cl, int fd, const struct stream *st,
			    uint32_t p)
{
	char key[64];
	long v;

	key_of(st, p, true, key, sizeof(key));
	v = observe(cl, fd, st, key);
	if (v == -EIO || v == -EPROTO)
		return (int)v;
	if (v > 0 && v != p)
		return violation(cl, "%s: version %ld, only request %u wrote it",
				 key, v, p);
	return 0;
}

/*
 * Overwritten keys: the values must be what requests 1..p leave, for some
 * p in [acked, sent].
 */
static int verify_overwrites(struct client *cl, int fd, const struct record *r)
{
	struct stream st = { r->run, r->conn, r->keys, r->pipeline, r->hostile,
			     cl->opt.resp };
	long seen[MAX_KEYS], counted[MAX_KEYS] = { 0 };
	uint32_t last[MAX_KEYS] = { 0 }, count[MAX_KEYS] = { 0 }, p;
	int *what = replay(&st, r), s, err = 0;
	char key[64];

	if (!what)
		return -ENOMEM;
	for (s = 0; s < r->keys && !err; s++) {
		snprintf(key, sizeof(key), "k%d-%d-s%d", r->run, r->conn, s);
		seen[s] = observe(cl, fd, &st, key);
		if (seen[s] == -EIO || seen[s] == -EPROTO)
			err = (int)seen[s];
		if (!err && st.resp) {
			counter_key(&st, s, key, sizeof(key));
			counted[s] = observe_counter(cl, fd, key);
			if (counted[s] == -EIO || counted[s] == -EPROTO)
				err = (int)counted[s];
		}
	}
	for (p = 1; p <= r->sent && !err; p++)
		if (what[p] == ABANDONED)
			err = verify_abandoned(cl, fd, &st, p);
	for (p = 0; p <= r->sent && !err; p++) {
		if (p && what[p] >= 0) {
			switch (op_of(&st, p)) {
			case OP_WRITE: last[what[p]] = p; break;
			case OP_INCR: count[what[p]]++; break;
			case OP_DEL_VALUE: last[what[p]] = 0; break;
			case OP_DEL_COUNTER: count[what[p]] = 0; break;
			}
		}
		if (p < r->acked)
			continue;
		for (s = 0; s < r->keys && seen[s] == (long)last[s] &&
		     counted[s] == (long)count[s]; s++)
			;
		if (s == r->keys)
			break;		/* requests 1..p explain every key */
	}
	free(what);
	if (err || p <= r->sent)
		return err;
	for (s = 0; s < r->keys; s++)
		printf("#   k%d-%d-s%d: version %ld, count %ld; all %u sent requests leave %u, %u\n",
		       r->run, r->conn, s, seen[s], counted[s], r->sent, last[s],
		       count[s]);
	return violation(cl, "run %d conn %d: no state after requests 1..p, p in [%u, %u], matches its keys (an acknowledged write lost, rolled back or reordered)",
			 r->run, r->conn, r->acked, r->sent);
}

/*
 * Unique keys: requests 1..acked present and exact (a sample of them for
 * older runs) but for the refused ones, absent; acked+1..sent a present
 * prefix then absent, sent+1 absent.
 */
static int verify_unique(struct client *cl, int fd, const struct record *r,
			 bool all, uint64_t *rng)
{
	struct stream st = { r->run, r->conn, r->keys, r->pipeline, r->hostile,
			     cl->opt.resp };
	int *what = replay(&st, r), err = 0;
	bool gap = false;
	char key[64];
	uint32_t p;
	long v;

	if (!what)
		return -ENOMEM;
	for (p = 1; p <= r->sent + 1 && !err; p++) {
		if (p <= r->sent && what[p] == ABANDONED) {
			err = verify_abandoned(cl, fd, &st, p);
			continue;
		}
		if (p <= r->acked && !all &&
		    xorshift(rng) % (r->acked / cl->opt.sample + 1))
			continue;
		key_of(&st, p, false, key, sizeof(key));
		v = observe(cl, fd, &st, key);
		if (v == -EIO || v == -EPROTO)
			err = (int)v;
		else if (v < 0)
			continue;
		else if (v && v != p)
			err = violation(cl, "%s: version %ld, only request %u wrote it",
					key, v, p);
		else if (p <= r->sent && what[p] == REFUSED)
			err = v ? violation(cl, "%s: refused with 503, but present",
					    key) : 0;
		else if (p <= r->acked && !v)
			err = violation(cl, "%s: acknowledged, but absent after the cut",
					key);
		else if (p > r->sent && v)
			err = violation(cl, "%s: never sent, but present", key);
		else if (p > r->acked && v && gap)
			err = violation(cl, "%s: present, but an earlier request of its connection is not (out of order)",
					key);
		else if (p > r->acked && !v)
			gap = true;
	}
	free(what);
	return err;
}

/*
 * A record's refused ranges, "a-b,c-d" or "-", into @r; -EINVAL if bad.
 * They may pass @r->acked: the checker's records inside a checkpoint take
 * what was acknowledged at one point and what was sent at the next.
 */
static int parse_refused(const char *s, struct record *r)
{
	char *end;

	r->nrefused = 0;
	if (!strcmp(s, "-"))
		return 0;
	while (*s) {
		struct range *g = &r->refused[r->nrefused];

		if (r->nrefused == MAX_REFUSED)
			return -EINVAL;
		g->a = strtoul(s, &end, 10);
		if (*end != '-')
			return -EINVAL;
		g->b = strtoul(end + 1, &end, 10);
		if (!g->a || g->b < g->a || g->b > r->sent ||
		    (*end && *end != ','))
			return -EINVAL;
		r->nrefused++;
		s = *end ? end + 1 : end;
	}
	return 0;
}

static int do_verify(struct client *cl)
{
	static struct record rec[MAX_RUNS * MAX_CONNS];
	FILE *f = fopen(cl->opt.state, "r");
	uint64_t rng = cl->opt.seed | 1;
	int nrec = 0, last_run = -1, i, fd, err = 0;
	char refused[REFUSED_CAP];
	struct record r;

	if (!f)
		return -errno;
	while (fscanf(f, "%d %d %u %u %d %d %d %767s", &r.run, &r.conn, &r.acked,
		      &r.sent, &r.keys, &r.pipeline, &r.hostile, refused) == 8) {
		if (nrec == MAX_RUNS * MAX_CONNS || r.conn < 0 ||
		    r.conn >= MAX_CONNS || r.keys < 0 || r.keys > MAX_KEYS ||
		    r.pipeline < 1 || r.pipeline > MAX_PIPELINE ||
		    r.acked > r.sent || parse_refused(refused, &r)) {
			fclose(f);
			return -E2BIG;
		}
		rec[nrec++] = r;
		if (r.run > last_run)
			last_run = r.run;
	}
	fclose(f);
	fd = dial(&cl->opt);
	if (fd < 0)
		return fd;
	for (i = 0; i < nrec && !err; i++)
		err = rec[i].keys ? verify_overwrites(cl, fd, &rec[i]) :
		      verify_unique(cl, fd, &rec[i], rec[i].run == last_run, &rng);
	close(fd);
	printf("crashload: verified %llu keys of %d runs: %llu violations\n",
	       (unsigned long long)cl->checked, last_run + 1,
	       (unsigned long long)cl->violations);
	if (err)
		return err;
	return cl->violations ? -EIO : 0;
}

/* ------------------------------------------------------------ main */

/* Wait until the server answers (a GET of a key nobody stores; a PING). */
static int wait_ready(struct client *cl, int timeout_s)
{
	long end = now_ms() + timeout_s * 1000L;
	const char *req = cl->opt.resp ? "*1\r\n$4\r\nPING\r\n" :
			  "GET /crashload-ready HTTP/1.1\r\nHost: pasted\r\n\r\n";
	const char *want = cl->opt.resp ? "+PONG" : "HTTP/1.1 404";
	char buf[512];

	while (now_ms() < end) {
		int fd = dial(&cl->opt);

		if (fd >= 0) {
			struct timeval tv = { .tv_sec = 5 };
			ssize_t n;

			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			n = send(fd, req, strlen(req), MSG_NOSIGNAL) > 0 ?
			    recv(fd, buf, sizeof(buf) - 1, 0) : -1;
			close(fd);
			if (n >= (ssize_t)strlen(want) && !memcmp(buf, want, strlen(want)))
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
"  -K, --keys N          load: overwrite N keys per connection (0: a new\n"
"                        key per request; at most 64)\n"
"  -P, --pipeline N      load: up to N requests per batch (1, at most 16)\n"
"  -X, --hostile         load: odd segmentation, stray CRLFs, large\n"
"                        bodies, closes after and inside batches\n"
"  -k, --kill-pid PID    load: SIGKILL this process (QEMU) ...\n"
"  -t, --kill-after MS   ... this many ms after the load starts\n"
"  -d, --duration MS     load: stop after this many ms\n"
"  -x, --markers         load: mark crash points for the checker\n"
"  -m, --min-points N    load: past the duration (up to 4 times it) until\n"
"                        N crash points are marked\n"
"  -n, --sample N        verify: keys sampled per older run (200)\n"
"  -s, --seed N          load: segmentation; verify: sampling\n"
"  -w, --wait S          ready: seconds to wait for the server (300)\n"
"  -R, --resp            speak RESP to Redis (SET, HSET, INCR, DEL, GET, HGET, PING)\n");
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'c' },
		{ "run", required_argument, NULL, 'r' },
		{ "state", required_argument, NULL, 'o' },
		{ "keys", required_argument, NULL, 'K' },
		{ "pipeline", required_argument, NULL, 'P' },
		{ "hostile", no_argument, NULL, 'X' },
		{ "kill-pid", required_argument, NULL, 'k' },
		{ "kill-after", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "markers", no_argument, NULL, 'x' },
		{ "min-points", required_argument, NULL, 'm' },
		{ "sample", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "wait", required_argument, NULL, 'w' },
		{ "resp", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct client cl;
	int opt, err, wait_s = 300;
	const char *cmd;

	cl.opt = (struct options){ .host = "127.0.0.1", .port = 8080,
				   .conns = 8, .pipeline = 1, .sample = 200,
				   .seed = 1 };
	while ((opt = getopt_long(argc, argv, "H:p:c:r:o:K:P:Xk:t:d:xm:n:s:w:Rh",
				  lopts, NULL)) != -1) {
		switch (opt) {
		case 'H': cl.opt.host = optarg; break;
		case 'p': cl.opt.port = atoi(optarg); break;
		case 'c': cl.opt.conns = atoi(optarg); break;
		case 'r': cl.opt.run = atoi(optarg); break;
		case 'o': cl.opt.state = optarg; break;
		case 'K': cl.opt.keys = atoi(optarg); break;
		case 'P': cl.opt.pipeline = atoi(optarg); break;
		case 'X': cl.opt.hostile = true; break;
		case 'R': cl.opt.resp = true; break;
		case 'k': cl.opt.kill_pid = atoi(optarg); break;
		case 't': cl.opt.kill_after_ms = atoi(optarg); break;
		case 'd': cl.opt.duration_ms = atoi(optarg); break;
		case 'x': cl.opt.markers = 1; break;
		case 'm': cl.opt.min_points = atoi(optarg); break;
		case 'n': cl.opt.sample = atoi(optarg); break;
		case 's': cl.opt.seed = strtoull(optarg, NULL, 0); break;
		case 'w': wait_s = atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || cl.opt.conns < 1 || cl.opt.conns > MAX_CONNS ||
	    cl.opt.keys < 0 || cl.opt.keys > MAX_KEYS || cl.opt.pipeline < 1 ||
	    cl.opt.pipeline > MAX_PIPELINE || cl.opt.sample < 1) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	cl.nconns = cl.opt.conns;
	cl.rng = cl.opt.seed * 0x9e3779b97f4a7c15ULL | 1;
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
