/* SPDX-License-Identifier: MIT */
/*
 * libpaste: user space for PASTE (Documentation/networking/paste.rst).
 *
 * - Regions: a fully allocated file on a DAX filesystem, mapped
 *   MAP_SHARED_VALIDATE | MAP_SYNC, attached to a listening socket.
 * - Receive: batches of references with recvmsg(MSG_PASTE); pin, flush and
 *   release through ioctl(SIOCPASTE).
 * - Persistence: clwb (or clflushopt, clflush) per cache line, one sfence
 *   per batch, chosen at run time from CPUID.
 * - A write-ahead log of 8-byte references with group commit, recovery of
 *   the valid prefix after a crash, and reset for checkpoints.
 *
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; none of them prints.
 */
#ifndef LIBPASTE_H
#define LIBPASTE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/paste.h>

/*
 * The socket option lives in <asm/socket.h>, as every SO_ does; a system
 * whose installed kernel headers predate PASTE gets the asm-generic value
 * (x86, arm64, riscv: not alpha, mips, parisc or sparc) from here.
 */
#ifndef SO_PASTE_REGION
#define SO_PASTE_REGION		86
#define SCM_PASTE		SO_PASTE_REGION
#endif

/* The shared library exports what this header declares, and nothing else. */
#pragma GCC visibility push(default)

/* ------------------------------------------------------------ regions */

/* paste_region_create()/open() flags */
#define PASTE_MAP_ALLOW_NOSYNC	0x1	/* accept a mapping without MAP_SYNC
					 * (tmpfs, tests): nothing is durable */

/**
 * struct paste_region - a mapped region file
 * @fd: the file, open read-write
 * @map: its mapping, @len bytes from file offset 0
 * @len: size of the file and of the mapping
 * @sync: the mapping is MAP_SYNC: cache write-back makes stores durable
 */
struct paste_region {
	int fd;
	char *map;
	uint64_t len;
	bool sync;
};

/**
 * paste_file_create() - create a file whole or not at all
 * @path: the file; an existing file is replaced
 * @len: its size: every block is allocated
 * @init: writes the file's initial contents (a header), or NULL for zeroes
 * @arg: passed to @init
 *
 * The file is written as @path.new, made durable, renamed to @path and the
 * directory made durable: a crash at any point leaves either the old @path
 * (or none) or the whole new file, never one whose header is missing. A
 * @path.new left by an interrupted creation is replaced.
 *
 * Return: a read-write descriptor of the new file, or a negative errno
 * (@init's, or of the calls above).
 */
int paste_file_create(const char *path, uint64_t len,
		      int (*init)(int fd, uint64_t len, void *arg), void *arg);

/**
 * paste_region_create() - create a region file of @len bytes and map it
 * @r: filled in on success
 * @path: the file; an existing file is replaced
 * @len: size, a multiple of the page size
 * @flags: %PASTE_MAP_ALLOW_NOSYNC or 0
 *
 * Every block is written with zeroes and the file is fsync()ed, so no hole
 * or unwritten extent is left for a page fault to allocate later; it is
 * created with paste_file_create(), so a crash never leaves a short one.
 *
 * The region is locked (flock(), exclusive) for as long as its descriptor
 * is open: one process at a time owns a region and its log.
 *
 * Return: 0, or -EOPNOTSUPP when MAP_SYNC is refused (not DAX) and
 * %PASTE_MAP_ALLOW_NOSYNC was not given, -EBUSY when another process has
 * the region (an existing @path) open, or another negative errno.
 */
int paste_region_create(struct paste_region *r, const char *path, uint64_t len,
			unsigned int flags);

/**
 * paste_region_open() - map an existing region file, e.g. after a restart
 * @r: filled in on success
 * @path: the file
 * @flags: %PASTE_MAP_ALLOW_NOSYNC or 0
 *
 * Return: 0 or a negative errno, as paste_region_create().
 */
int paste_region_open(struct paste_region *r, const char *path,
		      unsigned int flags);

/**
 * paste_region_close() - unmap and close a region (the file stays)
 * @r: the region; its lock goes with its descriptor
 */
void paste_region_close(struct paste_region *r);

/**
 * paste_region_attach() - attach the region to a TCP socket
 * @r: the region
 * @sock: a listening or connected TCP socket
 * @flags: %PASTE_REGION_DURABLE and/or %PASTE_REGION_VOLATILE
 * @slot_size: buffer size, 0 for the page size
 * @owned: ranges the caller still owns (its log references them), or NULL
 * @nr_owned: number of entries in @owned
 *
 * Return: 0, or the negative errno of setsockopt(SO_PASTE_REGION);
 * -ENOPROTOOPT means the kernel has no PASTE.
 */
int paste_region_attach(const struct paste_region *r, int sock,
			unsigned int flags, unsigned int slot_size,
			const struct paste_range *owned, unsigned int nr_owned);

/**
 * paste_region_attach_prefix() - attach the first @len bytes of the region
 * @r: the region
 * @len: bytes from offset 0 the kernel may place data in, page aligned;
 *	the rest of the file stays the application's (a log area for bytes
 *	that arrived otherwise, in the same file its log references)
 * @sock: a listening or connected TCP socket
 * @flags: as paste_region_attach()
 * @slot_size: as paste_region_attach()
 * @owned: as paste_region_attach()
 * @nr_owned: as paste_region_attach()
 *
 * Return: as paste_region_attach(); -EINVAL for a @len past the file.
 */
int paste_region_attach_prefix(const struct paste_region *r, uint64_t len,
			       int sock, unsigned int flags,
			       unsigned int slot_size,
			       const struct paste_range *owned,
			       unsigned int nr_owned);

/* ------------------------------------------------------------ receive */

/**
 * paste_recv() - receive a batch of references
 * @sock: a socket with a region
 * @refs: receives up to @max references, in TCP byte order
 * @max: capacity of @refs, at most 256
 * @nrefs: number of references received
 * @flags: extra recvmsg() flags, e.g. MSG_DONTWAIT
 *
 * Return: bytes consumed (0 at end of stream), or a negative errno:
 * -EAGAIN, -ENOBUFS (region exhausted: release buffers), ...
 */
ssize_t paste_recv(int sock, struct paste_ref *refs, unsigned int max,
		   unsigned int *nrefs, int flags);

/**
 * paste_recv_upto() - receive a batch of references, at most @limit bytes
 * @sock: a socket with a region
 * @limit: most bytes to consume, at least 1
 * @refs: receives up to @max references, in TCP byte order
 * @max: capacity of @refs, at most 256
 * @nrefs: number of references received
 * @flags: extra recvmsg() flags
 *
 * For a server that copies what it parses into a buffer of bounded size
 * (Redis's query buffer), or reads one large argument exactly.
 *
 * Return: as paste_recv().
 */
ssize_t paste_recv_upto(int sock, size_t limit, struct paste_ref *refs,
			unsigned int max, unsigned int *nrefs, int flags);

/**
 * paste_ioc() - pin, flush or release a batch of buffers
 * @sock: a socket with a region
 * @op: %PASTE_IOC_PIN, %PASTE_IOC_FLUSH or %PASTE_IOC_RELEASE
 * @refs: the entries
 * @n: number of entries; larger batches are split
 *
 * Return: @n, or a negative errno (entries before the failing one were
 * processed).
 */
int paste_ioc(int sock, unsigned int op, const struct paste_ref *refs,
	      unsigned int n);

/* ------------------------------------------------------------ holding */

/*
 * A buffer whose bytes a log record references must not go back to the
 * kernel before a checkpoint has copied them. Its socket keeps holding it
 * (no SIOCPASTE per request); when the socket closes, it is pinned to the
 * region instead, and a checkpoint releases both. Consumed buffers without
 * logged bytes go back in batches.
 *
 * A checkpoint that covers the log only up to its start, while the log
 * keeps taking records (Redis's rewrite of its append-only file), begins
 * a generation with paste_pins_new_gen() and, once it is durable,
 * releases the buffers of the older ones with paste_*_release_before().
 */
#define PASTE_HOLD_BATCH	32	/* unlogged buffers released per call */

/**
 * struct paste_kept - a buffer kept for the log
 * @token: the buffer
 * @gen: the generation it was settled in
 */
struct paste_kept {
	uint32_t token;
	uint32_t gen;
};

/**
 * struct paste_holder - the buffers one socket has consumed
 * @held: those with logged bytes (malloc()ed)
 * @nheld: their number
 * @cap: room in @held
 * @rel: those without, to release
 * @nrel: their number
 *
 * Zero-initialise; paste_holder_free() when the socket is gone.
 */
struct paste_holder {
	struct paste_kept *held;
	size_t nheld, cap;
	struct paste_ref rel[PASTE_HOLD_BATCH];
	unsigned int nrel;
};

/**
 * struct paste_pins - a server's buffers kept for its log
 * @tokens: pinned past their socket's close (malloc()ed; may repeat)
 * @n: their number
 * @cap: room in @tokens
 * @held: buffers its holders hold, over all sockets
 * @gen: the generation buffers settled now belong to (0 at first)
 *
 * @n + @held is what a checkpoint frees. Zero-initialise.
 */
struct paste_pins {
	struct paste_kept *tokens;
	size_t n, cap;
	size_t held;
	uint32_t gen;
};

/**
 * paste_pins_new_gen() - a checkpoint of the log up to now begins
 * @p: the pins
 *
 * Buffers settled or listed from now on belong to the new generation,
 * which a release before it keeps.
 *
 * Return: the new generation.
 */
uint32_t paste_pins_new_gen(struct paste_pins *p);

/**
 * paste_hold_settle() - a consumed buffer: hold it, or queue its release
 * @h: its socket's holder
 * @p: the server's pins
 * @sock: the socket
 * @ref: the buffer
 * @logged: a staged record references its bytes
 *
 * Return: the number of buffers released now (a full batch went back),
 * 0, or a negative errno (-ENOMEM: @ref is not held).
 */
int paste_hold_settle(struct paste_holder *h, struct paste_pins *p, int sock,
		      const struct paste_ref *ref, bool logged);

/**
 * paste_hold_flush() - release the queued unlogged buffers now
 * @h: the holder
 * @sock: its socket
 *
 * Return: the number released, or a negative errno.
 */
int paste_hold_flush(struct paste_holder *h, int sock);

/**
 * paste_hold_pin() - before the socket closes: pin what it holds
 * @h: the holder
 * @p: the server's pins, which list the buffers from now on
 * @sock: the socket, still open
 *
 * Flushes the release queue, then pins the held buffers so that they
 * outlive the socket. On failure the socket must stay open until a
 * checkpoint no longer needs them: closing it would give them back.
 *
 * Return: 0 or a negative errno.
 */
int paste_hold_pin(struct paste_holder *h, struct paste_pins *p, int sock);

/**
 * paste_hold_release() - after a checkpoint: release what a socket holds
 * @h: the holder
 * @p: the server's pins
 * @sock: the socket
 *
 * Return: the number released, or a negative errno.
 */
int paste_hold_release(struct paste_holder *h, struct paste_pins *p, int sock);

/**
 * paste_hold_release_before() - release what a socket holds of older
 *	generations
 * @h: the holder
 * @p: the server's pins
 * @sock: the socket
 * @gen: buffers of generations before this one go back
 *
 * Return: the number released, or a negative errno (a batch that failed
 * stays held, with the buffers after it).
 */
int paste_hold_release_before(struct paste_holder *h, struct paste_pins *p,
			      int sock, uint32_t gen);

/**
 * paste_holder_free() - free a holder's memory
 * @h: the holder; release or pin its buffers first
 */
void paste_holder_free(struct paste_holder *h);

/**
 * paste_pins_add() - list a pinned buffer
 * @p: the pins
 * @token: the buffer, e.g. one the recovered log references (owned)
 *
 * Return: 0 or -ENOMEM.
 */
int paste_pins_add(struct paste_pins *p, uint32_t token);

/**
 * paste_pins_release() - after a checkpoint: release every pinned buffer
 * @p: the pins
 * @sock: any socket with the region (a listener)
 *
 * Sorted, in SIOCPASTE batches; a token listed twice is released once.
 *
 * Return: the number released, or a negative errno.
 */
int paste_pins_release(struct paste_pins *p, int sock);

/**
 * paste_pins_release_before() - release pinned buffers of older generations
 * @p: the pins
 * @sock: any socket with the region
 * @gen: buffers of generations before this one go back
 *
 * As paste_pins_release(), for those buffers only; a token listed twice
 * belongs to its newest generation.
 *
 * Return: the number released, or a negative errno.
 */
int paste_pins_release_before(struct paste_pins *p, int sock, uint32_t gen);

/**
 * paste_pins_free() - free the pins' memory
 * @p: the pins
 */
void paste_pins_free(struct paste_pins *p);

/* ------------------------------------------------------------ persistence */

/**
 * paste_flush_insn() - the write-back instruction in use
 *
 * Return: "clwb", "clflushopt" or "clflush", as CPUID chose once.
 */
const char *paste_flush_insn(void);

/**
 * paste_flush() - write back cache lines, without a fence
 * @p: the first byte
 * @len: bytes: every line of [@p, @p + @len) is written back
 */
void paste_flush(const void *p, size_t len);

/**
 * paste_fence() - order all write-backs and stores before later stores
 *
 * sfence: after it, what paste_flush() wrote back is durable.
 */
void paste_fence(void);

/**
 * paste_persist() - paste_flush() then paste_fence()
 * @p: the first byte
 * @len: bytes to make durable
 */
void paste_persist(const void *p, size_t len);

/**
 * paste_copy_nodrain() - copy into persistent memory, durable at the next
 *	paste_fence()
 * @dst: destination in a MAP_SYNC mapping
 * @src: source
 * @len: bytes
 *
 * What libpmem2's pmem2_memcpy() does with PMEM2_F_MEM_NODRAIN: whole cache
 * lines of a large copy go with non-temporal stores (no write-back
 * needed); a small copy, and the partial lines at either end, with plain
 * stores and a write-back.
 */
void paste_copy_nodrain(void *dst, const void *src, size_t len);

/* ------------------------------------------------------------ WAL */

/*
 * A WAL entry is 8 bytes and references bytes of a data file (the region,
 * or the application's own log area):
 *
 *   bit  63      epoch parity
 *   bits 62..50  length (1..8191)
 *   bits 49..14  offset in the data file (up to 64 GiB)
 *   bits 13..1   check: 13 bits of crc32c(epoch, offset, length, more,
 *                payload)
 *   bit  0       more: the record continues in the next entry
 *
 * An entry is valid when its parity and check match the current epoch and
 * the payload it references. Recovery takes the longest valid prefix and
 * drops a trailing incomplete record, so a crash mid-commit loses exactly
 * the records that were not acknowledged.
 */
#define PASTE_WAL_MAX_LEN	8191
#define PASTE_WAL_MAX_OFFSET	((1ULL << 36) - 1)
#define PASTE_WAL_MAX_STAGED	1024	/* entries per group commit */
#define PASTE_WAL_MAX_PIECES	64	/* entries per record */

/* paste_wal_open() flags, besides %PASTE_MAP_ALLOW_NOSYNC */
#define PASTE_WAL_PAYLOAD_DURABLE 0x2	/* payloads are durable when staged
					 * (placed by a %PASTE_REGION_DURABLE
					 * region): commit writes entries only */

/**
 * struct paste_wal_rec - a decoded WAL entry
 * @offset: offset of the bytes in the data file
 * @len: number of bytes
 * @more: the record continues in the next entry
 */
struct paste_wal_rec {
	uint64_t offset;
	uint32_t len;
	bool more;
};

/**
 * struct paste_wal - a write-ahead log of references
 * @fd: the log file
 * @hdr: its mapped header
 * @entries: its mapped entry array
 * @capacity: number of entries
 * @tail: next entry to write
 * @committed: entries before this are durable
 * @epoch: current epoch
 * @data: mapping of the data file the entries reference
 * @data_len: its length
 * @sync: the log mapping is MAP_SYNC
 * @payload_durable: opened with %PASTE_WAL_PAYLOAD_DURABLE
 * @staged: records added since the last commit
 * @nr_staged: number of entries in @staged
 * @open_from: index in @staged of the first piece of the record still
 *	being staged; @nr_staged when every staged record is complete
 * @dropped: entries paste_wal_recover() found after the last complete
 *	record and cleared: a torn commit (never acknowledged) or a reset a
 *	crash interrupted (its records are in the checkpoint)
 */
struct paste_wal {
	int fd;
	struct paste_wal_hdr *hdr;
	uint64_t *entries;
	uint32_t capacity;
	uint32_t tail;
	uint32_t committed;
	uint32_t epoch;
	const char *data;
	uint64_t data_len;
	bool sync;
	bool payload_durable;
	struct paste_wal_rec staged[PASTE_WAL_MAX_STAGED];
	uint32_t nr_staged;
	uint32_t open_from;
	uint32_t dropped;
};

/**
 * paste_wal_encode() - pack a record into an entry (for tests)
 * @rec: the record piece
 * @epoch: the epoch it is written in
 * @payload: its bytes, which the entry's check covers
 *
 * Return: the 8-byte entry.
 */
uint64_t paste_wal_encode(const struct paste_wal_rec *rec, uint32_t epoch,
			  const void *payload);

/**
 * paste_wal_decode() - unpack and check an entry
 * @e: the entry
 * @epoch: the current epoch
 * @data: the data file mapping
 * @data_len: its length
 * @rec: the decoded record
 *
 * Return: true when @e is a valid entry of @epoch whose payload matches.
 */
bool paste_wal_decode(uint64_t e, uint32_t epoch, const void *data,
		      uint64_t data_len, struct paste_wal_rec *rec);

/**
 * paste_wal_open() - open or create a log of @capacity entries
 * @w: filled in
 * @path: the log file (on a DAX filesystem)
 * @capacity: entries; used when the file is created
 * @data: mapping of the data file the entries reference
 * @data_len: its length
 * @flags: %PASTE_MAP_ALLOW_NOSYNC, %PASTE_WAL_PAYLOAD_DURABLE or 0
 *
 * A missing log, or one without a header and without an entry (a creation
 * a crash interrupted), is created with paste_file_create(). An existing
 * log is not replayed; call paste_wal_recover().
 *
 * Return: 0 or a negative errno (-EINVAL: not a log of this version).
 */
int paste_wal_open(struct paste_wal *w, const char *path, uint32_t capacity,
		   const void *data, uint64_t data_len, unsigned int flags);

/**
 * paste_wal_close() - unmap and close a log
 * @w: the log; nothing committed is lost, what is staged is dropped
 */
void paste_wal_close(struct paste_wal *w);

/**
 * paste_wal_add() - stage a record piece for the next commit
 * @w: the log
 * @offset: offset of the bytes in the data file
 * @len: length, 1 to %PASTE_WAL_MAX_LEN
 * @more: the record continues with the next piece
 *
 * A record is staged whole or not at all: when a piece cannot be staged,
 * the pieces staged before it for the same record are unstaged too, and
 * paste_wal_commit() never writes a record whose last piece is not staged
 * yet. A failure leaves the log as if the record had never been begun.
 *
 * Return: 0; -EBUSY when this commit's batch is full (commit, then stage
 * the record again); -ENOSPC when the log is full (checkpoint); -E2BIG for
 * a record of more than %PASTE_WAL_MAX_PIECES pieces; -EINVAL.
 */
int paste_wal_add(struct paste_wal *w, uint64_t offset, uint32_t len,
		  bool more);

/**
 * paste_wal_commit() - make the staged records durable (group commit)
 * @w: the log
 *
 * Flushes every staged payload, fences, writes the entries, flushes them and
 * fences again (with %PASTE_WAL_PAYLOAD_DURABLE, only the entry steps).
 * Only after this returns may the records be acknowledged. A record still
 * being staged (its last piece had @more set) stays staged for the next
 * commit.
 *
 * Return: number of entries committed.
 */
int paste_wal_commit(struct paste_wal *w);

/**
 * paste_wal_recover() - find the valid records after a restart
 * @w: the log
 * @cb: called for each complete record, with its pieces
 * @arg: passed to @cb
 *
 * Sets the tail after the last complete record, and clears every entry
 * after it, durably, counting the non-zero ones in @w->dropped (print it:
 * they were never acknowledged, or are in the last checkpoint), so that
 * no later recovery can join them up with new entries.
 *
 * A torn commit leaves valid entries at most %PASTE_WAL_MAX_STAGED past
 * that end. A valid entry further on means an entry in the middle was
 * lost, and the acknowledged records after it with it: then nothing is
 * replayed or cleared and the log is left as it is.
 *
 * Return: number of records, the first non-zero value @cb returned, or
 * -EUCLEAN for a log lost in the middle.
 */
int paste_wal_recover(struct paste_wal *w,
		      int (*cb)(void *arg, const struct paste_wal_rec *pieces,
				unsigned int n),
		      void *arg);

/**
 * paste_wal_truncate() - drop every entry from @entry on, durably
 * @w: the log
 * @entry: the first entry to drop
 *
 * Before paste_wal_recover(): the operator's way past a damaged record that
 * recovery cannot skip; the records from there on are lost, and the caller
 * says so. After it: a record the application finds incomplete (one
 * command logged as several records, a commit a crash interrupted) is
 * dropped, and the tail moves back to @entry.
 *
 * Return: the number of non-zero entries cleared, or -EINVAL.
 */
int paste_wal_truncate(struct paste_wal *w, uint32_t entry);

/**
 * paste_wal_reset() - empty the log after a checkpoint
 * @w: the log
 *
 * Moves to a new epoch, durably, so old entries no longer validate; then
 * zeroes the used entries, durably. A crash at any point recovers either
 * all of the old records (the checkpoint holds them too) or none.
 *
 * Return: 0 or a negative errno.
 */
int paste_wal_reset(struct paste_wal *w);

#pragma GCC visibility pop

#endif /* LIBPASTE_H */
