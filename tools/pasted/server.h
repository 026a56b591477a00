/* SPDX-License-Identifier: MIT */
/*
 * pasted's shared state: options, connections, the server, and the
 * interfaces between its parts.
 *
 *   main.c        command line, start-up, listener
 *   round.c       the end of every loop round: commit, answers, checkpoint
 *   conn.c        connections: lifetime, input, timeouts
 *   request.c     requests: GET and POST
 *   reply.c       answers: queued, then sent after the group commit
 *   rx_buffer.c   receiving into a heap buffer, or into the log area
 *                 (readmmap), parsed in place (struct rx_ops)
 *   rx_paste.c    paste mode's receive queue of references and buffer
 *                 settlement (which buffers the socket holds, pins, releases)
 *   storage.c     the persistence modes behind one table (storage_ops),
 *                 checkpoint and recovery
 *   store_log.c   none, fsync, fdatasync: heap copies or a log file
 *   store_wal.c   memcpy, readmmap, paste: payload in a DAX data file, WAL
 *                 of references
 *   snapshot.c    the snapshot a checkpoint writes and start-up reads
 *   loop_epoll.c, loop_uring.c   the event loops
 *   fault.c       failure injection of test builds
 */
#ifndef PASTED_SERVER_H
#define PASTED_SERVER_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "fault.h"
#include "http.h"
#include "kv.h"
#include "libpaste.h"

enum mode { M_NONE, M_FSYNC, M_FDATASYNC, M_MEMCPY, M_READMMAP, M_PASTE,
	    M_COUNT };

#define MAX_CONN	65536		/* descriptors pasted asks for at most */
/*
 * References queued per connection. A request spans at most this many, so
 * its WAL record has at most as many entries (one per reference: a slot is
 * at most a page), which is what recovery reads back as one record. Every
 * array of a request's pieces has this size.
 */
#define QMAX		PASTE_WAL_MAX_PIECES
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define IN_CAP		(HTTP_MAX_HEADER + HTTP_MAX_BODY)
#define OUT_MAX		(256 << 10)	/* stop parsing above this backlog */
#define CHUNK		(64 << 10)	/* readmmap receive chunk */
#define REC_MAGIC	0x50415354U	/* fsync-mode log and snapshot record */
#define REPLY_MAX	4096		/* --reply-bytes limit */
#define NO_TRUNCATE	UINT32_MAX	/* no --truncate-wal */

/* The flush checker's own test builds: a deliberately broken server. */
#ifndef PASTE_SEEDED_BUG
#define PASTE_SEEDED_BUG 0
#endif

struct options {
	enum mode mode;
	bool uring;
	int port;
	const char *dir;
	uint64_t region_len;
	uint32_t wal_entries;
	bool allow_nosync;
	bool kernel_flush;
	unsigned int reply_bytes;
	unsigned int slot_size;
	unsigned int idle_ms;		/* close a connection idle this long */
	unsigned int request_ms;	/* ... or with a request this slow */
	const char *rx_ifname;		/* paste: NIC whose queue 0 receives
					 * into the region (zero copy) */
	uint32_t truncate_wal;		/* drop WAL entries from here on */
	bool quiet;
};

struct conn {
	int fd;
	bool closing, touched, recv_armed, send_busy;
	/*
	 * @stalled: parsing stopped at a full output backlog (OUT_MAX); the
	 * rest of the input waits, unread from the socket, until the
	 * responses are sent. @starved: paste, the region had no buffer for
	 * this connection's next bytes (ENOBUFS); retried once buffers are
	 * released or a second passes.
	 */
	bool stalled, starved, pending;
	bool continued;			/* "100 Continue" sent for this request */
	uint64_t active_ms;		/* when bytes last came in */
	uint64_t partial_ms;		/* since when a request is incomplete */
	/* modes other than paste: bytes received, parsed in place */
	char *in;
	size_t in_len;
	uint64_t in_off;		/* readmmap: data-file offset of @in */
	uint64_t chunk;			/* readmmap: the chunk this connection
					 * owns; @in_off may be its end */
	/* paste: queued references; @qoff bytes of q[0] are consumed */
	struct paste_ref q[QMAX];
	bool keep[QMAX];
	unsigned int qn;
	uint32_t qoff;
	struct paste_ref done[QMAX * 2];	/* consumed, to pin or release */
	bool done_keep[QMAX * 2];
	unsigned int ndone;
	struct paste_holder hold;	/* paste: consumed buffers */
	bool unsettled;			/* settling failed: some may be lost */
	uint64_t close_after;		/* unsettled: closes once this many
					 * checkpoints have succeeded */
	char hdr[HTTP_MAX_HEADER];	/* a head spanning buffers, gathered */
	/* io_uring receive */
	struct msghdr msg;
	struct iovec iov;
	char ctrl[CMSG_SPACE(sizeof(struct paste_ref)) * QMAX];
	/* responses, sent after the group commit */
	char *out;
	size_t out_len, out_cap, out_sent;
	char *out_sending;		/* io_uring: a buffer @out moved away
					 * from while a send points into it */
};

struct stats {
	uint64_t requests, posts, gets, errors, commits, checkpoints;
	uint64_t starved;		/* paste: receives refused for ENOBUFS */
	uint64_t payload_copied;	/* bytes user space copied of POST payloads */
	uint64_t header_copied;		/* bytes of heads gathered across buffers */
	uint64_t recv_copied;		/* bytes the kernel copied in by recv() */
	uint64_t write_copied;		/* bytes the kernel copied in by pwrite() */
	uint64_t ckpt_step_max;		/* most snapshot bytes one round wrote */
};

/**
 * struct snapshot_job - the snapshot a checkpoint writes, a step a round
 * @f: its temporary file, or NULL while no checkpoint is under way
 * @gen: the index entries with this snap_gen are in it
 * @cursor: the next index entry a step looks at
 * @intake: bytes of values staged since the last step
 */
struct snapshot_job {
	FILE *f;
	uint32_t gen;
	size_t cursor;
	uint64_t intake;
};

/*
 * Where a request's bytes are: contiguous at @buf (or NULL), and as at most
 * QMAX pieces of the data file (one per queued reference, or per WAL entry
 * of a record at recovery).
 */
struct located {
	const char *buf;
	unsigned int n;
	struct kv_piece p[QMAX];
};

struct server;

/**
 * struct rx_ops - how connections receive (rx_buffer.c, rx_paste.c)
 * @data_file: the data file is pasted.@data_file
 * @conn_init: set up a new connection's input (NULL: nothing to do)
 * @conn_exit: give back what a closing connection holds (NULL: nothing);
 *	an error means buffers the log references could not be kept
 * @prepare: before a receive: room for it; -1 when the connection is
 *	closing instead
 * @recv: epoll: one non-blocking receive: bytes (its references in @refs,
 *	at most QMAX - @c->qn, *@nrefs of them), 0 at EOF, or -errno
 * @prep_recv: io_uring: make @sqe the connection's next receive
 * @received: io_uring: the references a completed receive brought
 * @input: queue what a receive brought
 * @process: parse and handle what is queued
 * @partial: what is queued is the start of a request (not empty lines)
 * @settle: after the group commit (NULL: nothing to do); non-zero closes
 * @starved: a receive found no buffer (-ENOBUFS; NULL: never happens)
 * @attach: at start-up, before listen() (NULL: none)
 */
struct rx_ops {
	const char *data_file;
	int (*conn_init)(struct server *s, struct conn *c);
	int (*conn_exit)(struct server *s, struct conn *c);
	int (*prepare)(struct server *s, struct conn *c);
	ssize_t (*recv)(struct server *s, struct conn *c,
			struct paste_ref *refs, unsigned int *nrefs);
	void (*prep_recv)(struct server *s, struct conn *c,
			  struct io_uring_sqe *sqe);
	unsigned int (*received)(struct conn *c, struct paste_ref *refs);
	void (*input)(struct server *s, struct conn *c, size_t got,
		      const struct paste_ref *refs, unsigned int nrefs);
	void (*process)(struct server *s, struct conn *c);
	bool (*partial)(const struct server *s, const struct conn *c);
	int (*settle)(struct server *s, struct conn *c);
	void (*starved)(struct server *s, struct conn *c);
	int (*attach)(struct server *s);
};

extern const struct rx_ops rx_heap, rx_log_area, rx_paste;

/**
 * struct storage_ops - one persistence mode
 * @name: its --mode name
 * @files: the pasted.* files it owns
 * @rx: how connections receive: into malloc()ed buffers, into the data
 *	file's log area (readmmap), or as region references (paste)
 * @open: open or create the mode's files and recover their records
 * @stage: make a POST's value part of the next commit; fills @v, or
 *	-ENOSPC (checkpoint, then retry), -E2BIG (413)
 * @commit: make everything staged durable (one group commit)
 * @truncate: after a snapshot holds every value: empty the log
 * @need_checkpoint: the log or data file is three quarters full
 * @read: copy a %KV_DATA or %KV_FILE value of this mode to @dst
 * @close: release what @open took
 */
struct storage_ops {
	const char *name;
	const char *files;
	const struct rx_ops *rx;
	int (*open)(struct server *s);
	int (*stage)(struct server *s, const struct http_req *req,
		     struct located *at, const char *body, struct kv_val *v);
	int (*commit)(struct server *s);
	int (*truncate)(struct server *s);
	bool (*need_checkpoint)(const struct server *s);
	int (*read)(struct server *s, const struct kv_val *v, char *dst);
	void (*close)(struct server *s);
};

extern const struct storage_ops *const storage_modes[M_COUNT];

/**
 * struct event_loop - epoll or io_uring
 * @run: serve until stopped; 0, or why the loop failed
 * @answer: after the round's commit: send what @c has queued, close it, or
 *	wait for what it needs next (readiness, or a submitted operation)
 * @accept_resume: accept again after accept_pause() stopped it
 */
struct event_loop {
	int (*run)(struct server *s);
	void (*answer)(struct server *s, struct conn *c);
	void (*accept_resume)(struct server *s);
};

extern const struct event_loop epoll_loop, uring_loop;

struct server {
	struct options opt;
	const struct storage_ops *store;
	const struct event_loop *loop;
	int lsn, sigfd;
	struct paste_region data;	/* region (paste) or log area */
	struct paste_wal wal;
	bool has_wal;
	uint32_t wal_replayed;		/* entries recovery has replayed */
	int logfd;			/* fsync modes */
	uint64_t log_len;		/* where the next record goes */
	uint64_t log_gen;		/* generation of valid records */
	char *batch;			/* fsync modes: records of this batch */
	size_t batch_len, batch_cap;
	uint64_t data_tail;		/* memcpy/readmmap: next free byte */
	bool *chunk_kept;		/* readmmap: chunks in use at the last
					 * checkpoint, not reused until the next */
	unsigned int chunk_conns;	/* readmmap: connections with a chunk */
	/* paste: buffers the WAL references, from recovery until attach */
	struct paste_range *owned;
	unsigned int nowned;
	struct paste_pins pins;		/* paste: buffers the log keeps */
	uint32_t nr_slots;
	uint32_t slot_size;		/* paste: bytes per region buffer */
	bool released;			/* buffers or log area came back since
					 * the last retry of starved connections */
	bool checkpoint_wanted;		/* connections wait for room that only
					 * a checkpoint frees */
	struct kv kv;
	struct snapshot_job snap;
	struct conn **conns;		/* by descriptor, @max_conn of them */
	struct conn **touched;		/* to settle and answer this round */
	int *pending;			/* descriptors with input to parse
					 * next round */
	unsigned int max_conn, ntouched, npending;
	unsigned int nconns;		/* connections open */
	int ep;				/* epoll loop */
	uint64_t sweep_ms;		/* last look for timed-out connections */
	uint64_t paused_ms;		/* spent in checkpoints since then */
	struct __kernel_timespec tick;	/* io_uring loop: timer period */
	bool accept_paused;		/* out of descriptors */
	struct io_uring ring;
	unsigned int unarmed;		/* io_uring: accept, timer to submit
					 * again (no entry was free) */
	bool stop;
	bool checkpoint_due;		/* start-up: a store replayed records
					 * that a checkpoint should take */
	int fatal;			/* why the loop stopped, if it failed */
	int ckpt_err;			/* the last checkpoint failed: writes
					 * get 503 until one succeeds */
	struct fault_plan faults;	/* test builds: calls made to fail */
	struct stats st;
};

static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copy value @v to @dst (v->len bytes). */
static inline int value_read(struct server *s, const struct kv_val *v,
			     char *dst)
{
	if (v->where == KV_HEAP) {
		memcpy(dst, v->heap, v->len);
		return 0;
	}
	return s->store->read(s, v, dst);
}

/* Responses not yet sent: at OUT_MAX, parsing stops (@c->stalled). */
static inline bool conn_backlogged(const struct conn *c)
{
	return c->out_len - c->out_sent >= OUT_MAX;
}

/* conn.c */
struct conn *conn_new(struct server *s, int fd);
bool conn_close(struct server *s, struct conn *c);
void conn_starve(struct server *s, struct conn *c, bool checkpoint_frees);
void conn_input(struct server *s, struct conn *c, ssize_t got,
		const struct paste_ref *refs, unsigned int nrefs);
void conn_process(struct server *s, struct conn *c);
void conn_settle(struct server *s, struct conn *c);
bool conn_wants_input(const struct conn *c);
void touch(struct server *s, struct conn *c);
void housekeeping(struct server *s, uint64_t now, bool tick);
bool accept_pause(struct server *s, int err);

/* reply.c */
int respond_head(struct conn *c, int status, size_t len, bool close);
int respond(struct conn *c, int status, const char *body, size_t len,
	    bool close);
void bad_request(struct server *s, struct conn *c, int status);
void conn_continue(struct conn *c, const struct http_req *req);
int conn_send(struct server *s, struct conn *c);
void conn_send_done(struct server *s, struct conn *c, int res);
void conn_sent(struct server *s, struct conn *c);

/* request.c */
void handle_request(struct server *s, struct conn *c,
		    const struct http_req *req, struct located *at,
		    const char *body);

/* rx_paste.c */
int paste_release_all(struct server *s);

/* storage.c */
int storage_check(const struct server *s);
int storage_open(struct server *s);
int store_post(struct server *s, const struct http_req *req,
	       struct located *at, const char *body);
int commit(struct server *s);
bool need_checkpoint(const struct server *s);
void checkpoint_step(struct server *s, bool tick);
bool checkpoint_running(const struct server *s);

/* store_log.c */
bool log_is_empty(const char *path);

/* store_wal.c */
int chunk_alloc(struct server *s, uint64_t *off);
bool chunk_freeable(const struct server *s);

/* round.c */
int round_end(struct server *s);

/* snapshot.c */
int snapshot_begin(struct server *s);
int snapshot_step(struct server *s, uint64_t budget);
int snapshot_finish(struct server *s);
void snapshot_abort(struct server *s);
int snapshot_load(struct server *s);

#endif /* PASTED_SERVER_H */
