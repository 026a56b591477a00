// SPDX-License-Identifier: MIT
/*
 * pasted: a durable HTTP/1.1 key-value server, the PASTE paper's experiment
 * made useful.
 *
 *   POST /<key>  stores the body; "201 Created" only once it is durable
 *   GET /<key>   returns the latest value, or 404
 *
 * Persistence modes (--mode, storage_ops in store_*.c):
 *   none       nothing is durable (the baseline)
 *   fsync      write() a record to a log file, fsync() per batch
 *   fdatasync  the same with fdatasync()
 *   memcpy     read() into memory, memcpy() the request into a MAP_SYNC log
 *              area on DAX, flush, WAL entry
 *   readmmap   read() straight into the MAP_SYNC log area, flush, WAL entry
 *   paste      recvmsg(MSG_PASTE): requests land in region buffers; flush in
 *              place, WAL of references, no user-space copy of payload
 *
 * Event loops (--loop): epoll, or io_uring (receives, sends and releases
 * batched across connections). Every loop round ends with one group
 * commit; responses are sent only after it.
 *
 * This file: the command line, start-up and the listener.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"

static int die_errno(const char *what, int err)
{
	fprintf(stderr, "pasted: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/*
 * One table entry per possible descriptor: raise the soft RLIMIT_NOFILE to
 * the hard one (at most MAX_CONN), so that every connection the kernel lets
 * us accept has a place.
 */
static int conns_alloc(struct server *s)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur < MAX_CONN && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < MAX_CONN ? rl.rlim_max : MAX_CONN;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			return -errno;
	}
	s->max_conn = rl.rlim_cur < MAX_CONN ? rl.rlim_cur : MAX_CONN;
	s->conns = calloc(s->max_conn, sizeof(*s->conns));
	s->touched = calloc(s->max_conn, sizeof(*s->touched));
	s->pending = calloc(s->max_conn, sizeof(*s->pending));
	return s->conns && s->touched && s->pending ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------ main */

static void usage(FILE *f)
{
	fprintf(f,
"usage: pasted [options]\n"
"  -m, --mode MODE      none|fsync|fdatasync|memcpy|readmmap|paste (paste)\n"
"  -l, --loop LOOP      epoll|uring (epoll)\n"
"  -p, --port PORT      TCP port (8080)\n"
"  -d, --dir DIR        directory on a DAX filesystem (/mnt/pmem)\n"
"  -r, --region MIB     region / log area size in MiB (64)\n"
"  -w, --wal ENTRIES    WAL capacity in entries (262144)\n"
"      --allow-nosync   accept a non-MAP_SYNC mapping (tests; not durable)\n"
"      --reply-bytes N  pad 201 responses to N bytes (benchmarks)\n"
"      --slot-size N    paste mode: region buffer size, a power of two\n"
"                       up to the page size (the page size)\n"
"      --kernel-flush   paste mode: the kernel makes payloads durable as it\n"
"                       places them (PASTE_REGION_DURABLE); commits write\n"
"                       only WAL entries. Not with --zero-copy\n"
"      --idle-timeout S     close a connection that sent nothing for S\n"
"                       seconds (60)\n"
"      --request-timeout S  answer 408 and close when a request is not\n"
"                       complete S seconds after its first byte (10)\n"
"      --zero-copy IF   paste mode: bind receive queue 0 of network device\n"
"                       IF to the region, so that it receives straight\n"
"                       into it (needs CAP_NET_ADMIN and a driver that\n"
"                       can, e.g. virtio-net)\n"
"      --truncate-wal E drop the WAL's entries from entry E on, saying\n"
"                       how many, before recovery: the way past a damaged\n"
"                       record that start-up names (those records are lost)\n"
"  -q, --quiet          no summary at exit\n"
"  -h, --help           this text\n"
"POST /<key> stores the body durably before answering 201; GET /<key>\n"
"returns it. SIGTERM or SIGINT stops the server cleanly.\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option lopts[] = {
		{ "mode", required_argument, NULL, 'm' },
		{ "loop", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "dir", required_argument, NULL, 'd' },
		{ "region", required_argument, NULL, 'r' },
		{ "wal", required_argument, NULL, 'w' },
		{ "allow-nosync", no_argument, NULL, 'N' },
		{ "kernel-flush", no_argument, NULL, 'K' },
		{ "reply-bytes", required_argument, NULL, 'R' },
		{ "slot-size", required_argument, NULL, 'S' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "request-timeout", required_argument, NULL, 'T' },
		{ "zero-copy", required_argument, NULL, 'Z' },
		{ "truncate-wal", required_argument, NULL, 'W' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned int i;
	int ch;

	*o = (struct options){ .mode = M_PASTE, .port = 8080, .dir = "/mnt/pmem",
			       .region_len = 64ULL << 20, .wal_entries = 262144,
			       .idle_ms = 60000, .request_ms = 10000,
			       .truncate_wal = NO_TRUNCATE };
	while ((ch = getopt_long(argc, argv, "m:l:p:d:r:w:qh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			for (i = 0; i < M_COUNT &&
			     strcmp(optarg, storage_modes[i]->name); i++)
				;
			if (i == M_COUNT) {
				fprintf(stderr, "pasted: unknown mode '%s'\n", optarg);
				return -1;
			}
			o->mode = i;
			break;
		case 'l':
			if (strcmp(optarg, "epoll") && strcmp(optarg, "uring") &&
			    strcmp(optarg, "io_uring")) {
				fprintf(stderr, "pasted: unknown loop '%s'\n", optarg);
				return -1;
			}
			o->uring = strcmp(optarg, "epoll");
			break;
		case 'p':
			o->port = atoi(optarg);
			if (o->port <= 0 || o->port > 65535) {
				fprintf(stderr, "pasted: bad port '%s'\n", optarg);
				return -1;
			}
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'r':
			o->region_len = strtoull(optarg, NULL, 10) << 20;
			if (!o->region_len || o->region_len > (16ULL << 30)) {
				fprintf(stderr, "pasted: bad region size '%s'\n", optarg);
				return -1;
			}
			break;
		case 'w':
			o->wal_entries = strtoul(optarg, NULL, 10);
			if (o->wal_entries < 1024) {
				fprintf(stderr, "pasted: WAL needs >= 1024 entries\n");
				return -1;
			}
			break;
		case 'N':
			o->allow_nosync = true;
			break;
		case 'K':
			o->kernel_flush = true;
			break;
		case 'S':
			/* The kernel checks it: EINVAL names a bad size. */
			o->slot_size = strtoul(optarg, NULL, 10);
			break;
		case 'R':
			o->reply_bytes = strtoul(optarg, NULL, 10);
			if (o->reply_bytes > REPLY_MAX) {
				fprintf(stderr, "pasted: --reply-bytes at most %d\n",
					REPLY_MAX);
				return -1;
			}
			break;
		case 'I':
		case 'T':
			i = strtoul(optarg, NULL, 10);
			if (!i || i > 86400) {
				fprintf(stderr, "pasted: bad timeout '%s' (1 to 86400 s)\n",
					optarg);
				return -1;
			}
			*(ch == 'I' ? &o->idle_ms : &o->request_ms) = i * 1000;
			break;
		case 'Z':
			o->rx_ifname = optarg;
			break;
		case 'W':
			o->truncate_wal = strtoul(optarg, NULL, 10);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	if (o->rx_ifname && o->mode != M_PASTE) {
		fprintf(stderr, "pasted: --zero-copy needs paste mode\n");
		return -1;
	}
	if (o->truncate_wal != NO_TRUNCATE && o->mode < M_MEMCPY) {
		fprintf(stderr, "pasted: --truncate-wal needs a mode with a WAL (memcpy, readmmap, paste)\n");
		return -1;
	}
	if (o->kernel_flush && o->mode != M_PASTE) {
		fprintf(stderr, "pasted: --kernel-flush needs --mode paste\n");
		return -1;
	}
	if (o->kernel_flush && o->rx_ifname) {
		fprintf(stderr, "pasted: --kernel-flush with --zero-copy: the kernel does not write back what a device places, so payloads would be acknowledged before they are durable; leave out --kernel-flush\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct server *s = calloc(1, sizeof(*s));
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_ANY_INIT };
	sigset_t mask;
	int one = 1, err;

	if (!s || parse_args(argc, argv, &s->opt))
		return 2;
	if (fault_plan_parse(&s->faults, getenv("PASTED_FAULTS"))) {
		fprintf(stderr, "pasted: PASTED_FAULTS: expected point=N[+K],...\n");
		return 2;
	}
	s->store = storage_modes[s->opt.mode];
	s->loop = s->opt.uring ? &uring_loop : &epoll_loop;
	s->logfd = -1;
	s->data.fd = -1;
	if (kv_init(&s->kv))
		return die_errno("index", ENOMEM);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	if (storage_check(s))
		return 1;
	err = conns_alloc(s);
	if (err)
		return die_errno("connection table", err);
	err = storage_open(s);
	if (err)
		return die_errno("storage", err);

	s->lsn = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	a.sin6_port = htons(s->opt.port);
	setsockopt(s->lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s->lsn < 0 || bind(s->lsn, (struct sockaddr *)&a, sizeof(a)))
		return die_errno("bind", errno);
	/* Attach before listen(): a connection accepted earlier has no region. */
	if (s->store->rx->attach) {
		err = s->store->rx->attach(s);
		if (err)
			return die_errno("attach region", err);
	}
	free(s->owned);
	s->owned = NULL;
	if (listen(s->lsn, 1024))
		return die_errno("listen", errno);

	printf("pasted: mode %s, loop %s, port %d, %s %s (%" PRIu64 " MiB%s), log %s, %zu keys recovered, flush %s\n",
	       s->store->name, s->opt.uring ? "io_uring" : "epoll",
	       s->opt.port,
	       s->store->rx->data_file,
	       s->opt.mode >= M_MEMCPY ? s->opt.dir : "-",
	       s->data.len >> 20, s->data.sync || s->opt.mode < M_MEMCPY ? "" : ", NOT MAP_SYNC",
	       s->opt.mode == M_NONE ? "none" :
	       s->opt.mode <= M_FDATASYNC ? "pasted.log" : "pasted.wal",
	       s->kv.n, s->opt.kernel_flush ? "by the kernel (payloads)" :
	       paste_flush_insn());
	fflush(stdout);

	err = s->loop->run(s);
	if (err)
		return die_errno("event loop", err);
	if (commit(s))
		return die_errno("final commit", EIO);
	if (!s->opt.quiet)
		printf("pasted: stopped: %" PRIu64 " requests (%" PRIu64 " POST, %" PRIu64
		       " GET, %" PRIu64 " errors), %" PRIu64 " commits, %" PRIu64
		       " checkpoints, %" PRIu64 " bytes at most per checkpoint step, %" PRIu64
		       " receives without buffers, payload bytes copied %" PRIu64
		       ", head bytes gathered %" PRIu64
		       ", kernel copies: %" PRIu64 " received, %" PRIu64 " written\n",
		       s->st.requests, s->st.posts, s->st.gets, s->st.errors,
		       s->st.commits, s->st.checkpoints, s->st.ckpt_step_max,
		       s->st.starved,
		       s->st.payload_copied, s->st.header_copied,
		       s->st.recv_copied, s->st.write_copied);
	for (unsigned int fd = 0; fd < s->max_conn; fd++)
		if (s->conns[fd])
			conn_close(s, s->conns[fd]);
	free(s->conns);
	free(s->touched);
	free(s->pending);
	snapshot_abort(s);
	if (s->store->close)
		s->store->close(s);
	kv_free(&s->kv);
	free(s);
	return 0;
}
