/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * PASTE: TCP receive into named buffers of a (persistent memory) file.
 *
 * See Documentation/networking/paste.rst.
 */
#ifndef _UAPI_LINUX_PASTE_H
#define _UAPI_LINUX_PASTE_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <asm/socket.h>		/* SO_PASTE_REGION, SCM_PASTE */

/* recvmsg() flag: return references to region buffers instead of bytes. */
#define MSG_PASTE		0x400000

/* Flags of struct paste_region_req. */
#define PASTE_REGION_VOLATILE	0x1U
#define PASTE_REGION_DURABLE	0x2U
#define PASTE_REGION_PACK	0x4U
#define PASTE_REGION_FLAGS	(PASTE_REGION_VOLATILE | PASTE_REGION_DURABLE | \
				 PASTE_REGION_PACK)

/* Bounds of struct paste_region_req. */
#define PASTE_SLOT_MIN		512
#define PASTE_MAX_OWNED		65536

/**
 * struct paste_range - a byte range of the region file
 * @offset: file offset of the first byte
 * @length: number of bytes
 *
 * Used at attach time to name buffers the application still owns, for
 * example because its write-ahead log references them after a restart.
 */
struct paste_range {
	__u64 offset;
	__u64 length;
};

/**
 * struct paste_region_req - argument of setsockopt(SO_PASTE_REGION)
 * @fd: file descriptor of a regular file on a DAX filesystem, opened
 *	read-write (a shmem/tmpfs file with %PASTE_REGION_VOLATILE)
 * @flags: %PASTE_REGION_VOLATILE, %PASTE_REGION_DURABLE,
 *	%PASTE_REGION_PACK: small receives of a socket share buffers across
 *	calls (a token may then name a buffer holding several references,
 *	and the kernel appends to the last buffer it gave), small frames a
 *	device placed are copied into them, and a socket holds at most a
 *	quarter of the region's buffers unless @max_held says otherwise
 * @offset: file offset of the region, page aligned
 * @length: length of the region in bytes, page aligned, non-zero
 * @addr: address of the caller's MAP_SHARED mapping of
 *	[@offset, @offset + @length) of @fd, page aligned
 * @slot_size: buffer size in bytes, a power of two between
 *	%PASTE_SLOT_MIN and the page size; 0 selects the page size
 * @nr_owned: number of entries at @owned, at most %PASTE_MAX_OWNED
 * @owned: user pointer to an array of struct paste_range the
 *	application still owns; the buffers they touch start out pinned
 * @max_held: most buffers the socket may hold at once (received and
 *	neither pinned nor released); sockets accepted on it inherit the
 *	limit. 0: no limit but the region's size (a quarter of it with
 *	%PASTE_REGION_PACK)
 * @reserved: must be zero
 */
struct paste_region_req {
	__s32 fd;
	__u32 flags;
	__u64 offset;
	__u64 length;
	__u64 addr;
	__u32 slot_size;
	__u32 nr_owned;
	__u64 owned;
	__u32 max_held;
	__u32 reserved[3];
};

/**
 * struct paste_ref - one reference to received bytes
 * @offset: file offset of the first byte
 * @len: number of bytes, never more than the slot size
 * @token: index of the buffer (slot) in the region, used to pin and
 *	release it; stable across reboots:
 *	(@offset - region offset) / slot size
 *
 * recvmsg(%MSG_PASTE) returns one %SCM_PASTE control message per
 * reference, in TCP byte order. Bytes the kernel copies in one call fill
 * a buffer before the next is taken; each buffer holds one reference.
 * The ioctl %SIOCPASTE takes arrays of it.
 */
struct paste_ref {
	__u64 offset;
	__u32 len;
	__u32 token;
};

/**
 * enum paste_ioc_op - operations of %SIOCPASTE
 * @PASTE_IOC_PIN: move buffers (by token) from the socket to the region;
 *	they outlive the socket until released
 * @PASTE_IOC_FLUSH: write back [offset, offset + len) to the persistence
 *	domain and fence
 * @PASTE_IOC_RELEASE: return buffers (by token) for reuse
 */
enum paste_ioc_op {
	PASTE_IOC_PIN = 1,
	PASTE_IOC_FLUSH = 2,
	PASTE_IOC_RELEASE = 3,
};

/* Largest batch accepted by SIOCPASTE. */
#define PASTE_IOC_MAX_BATCH	1024

/**
 * struct paste_ioc - argument of ioctl(%SIOCPASTE)
 * @op: one of &enum paste_ioc_op
 * @count: number of entries at @refs, 1 to %PASTE_IOC_MAX_BATCH
 * @refs: user pointer to an array of struct paste_ref
 * @reserved: must be zero
 *
 * Entries are processed in order. The call returns how many were
 * processed; it stops at the first invalid entry and fails with that
 * entry's error only if it is the first one.
 */
struct paste_ioc {
	__u32 op;
	__u32 count;
	__u64 refs;
	__u64 reserved;
};

#define SIOCPASTE		_IOWR(0x89, 0xc8, struct paste_ioc)

/**
 * struct paste_rxq_bind - argument of ioctl(%SIOCPASTEBIND)
 * @ifindex: the network device whose receive queue is bound
 * @queue: index of the receive queue
 * @flags: must be zero
 * @reserved: must be zero
 *
 * Binds a receive queue of a device to the region of the socket the ioctl
 * is made on, until that socket is closed or the device goes away. The
 * device then receives frames straight into free buffers of the region, and
 * recvmsg(%MSG_PASTE) hands such buffers over without a copy. Every frame
 * the queue receives lands in the region, whatever socket it is for.
 * Needs CAP_NET_ADMIN.
 */
struct paste_rxq_bind {
	__u32 ifindex;
	__u32 queue;
	__u32 flags;
	__u32 reserved;
};

#define SIOCPASTEBIND		_IOW(0x89, 0xc9, struct paste_rxq_bind)

/**
 * struct paste_sock_info - getsockopt(SO_PASTE_REGION)
 * @region_offset: file offset of the region
 * @region_length: length of the region
 * @slot_size: buffer size
 * @nr_slots: number of buffers in the region
 * @flags: flags the region was created with
 * @refs_outstanding: buffers held by this socket
 * @slots_free: free buffers in the region
 * @slots_pinned: pinned buffers in the region
 * @bytes_placed: bytes this socket placed into the region
 * @bytes_copied: of those, bytes the CPU copied
 * @region_full: times this socket found the region exhausted
 * @flushes: FLUSH entries this socket processed
 * @bytes_zerocopy: of @bytes_placed, bytes a device wrote into the region
 *	that were handed over without a copy
 * @slots_rx: buffers of the region posted to a device or held by an skb
 * @max_held: the socket's limit on buffers held, 0 for none
 * @held_full: times this socket was refused a buffer at @max_held
 */
struct paste_sock_info {
	__u64 region_offset;
	__u64 region_length;
	__u32 slot_size;
	__u32 nr_slots;
	__u32 flags;
	__u32 refs_outstanding;
	__u32 slots_free;
	__u32 slots_pinned;
	__u64 bytes_placed;
	__u64 bytes_copied;
	__u64 region_full;
	__u64 flushes;
	__u64 bytes_zerocopy;
	__u32 slots_rx;
	__u32 max_held;
	__u64 held_full;
};

#endif /* _UAPI_LINUX_PASTE_H */
