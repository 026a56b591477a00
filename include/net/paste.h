/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PASTE: TCP receive into named buffers of a (persistent memory) file.
 */
#ifndef _NET_PASTE_H
#define _NET_PASTE_H

#include <linux/errno.h>
#include <linux/types.h>
#include <linux/xarray.h>
#include <linux/sockptr.h>
#include <uapi/linux/paste.h>

struct sock;
struct sk_buff;
struct msghdr;
struct paste_region;
struct paste_rxq;

/**
 * struct paste_pack - the buffer recvmsg() copied into last
 * @msg: the call that wrote its last reference, which that call may
 *	extend; NULL once that call has returned
 * @cursor: the call's control buffer just past the reference
 * @len: where the reference's length lies in the control buffer
 * @slot: the buffer
 * @start: where in the buffer the last reference begins
 * @used: bytes in the buffer
 * @open: with %PASTE_REGION_PACK, later calls may append to the buffer,
 *	with references of their own, while the socket holds it
 */
struct paste_pack {
	const struct msghdr *msg;
	void __user *cursor;
	u32 __user *len;
	u32 slot;
	u32 start;
	u32 used;
	bool open;
};

/**
 * struct paste_sock - PASTE state of a TCP socket
 * @region: attached region, or NULL; holds a reference. Set and cleared
 *	with the socket locked; a listener's is read under RCU when a child
 *	inherits it in softirq context
 * @rxq: receive queue bound to @region through this socket, or NULL
 * @owned: buffers (slot index) handed to user space and not yet pinned or
 *	released, with the number of references to each and whether one of
 *	them was pinned (see net/paste/sock.c)
 * @refs_outstanding: number of entries in @owned
 * @max_held: most entries @owned may have, 0 for the region's default
 * @bytes_placed: bytes placed into the region
 * @bytes_copied: of those, bytes copied by the CPU
 * @bytes_zerocopy: of those, bytes a device placed, handed over as they lay
 * @region_full: times the region had no free buffer
 * @held_full: times @max_held refused a buffer
 * @flushes: ranges written back through %PASTE_IOC_FLUSH
 * @pack: the buffer recvmsg() copied into last, which calls may still
 *	extend or append to (see net/paste/recv.c)
 * @rcu: frees the state after readers in softirq context are done
 *
 * Allocated when a region is first attached to the socket, or inherited
 * from a listener, and freed with the socket: &tcp_sock.paste points to
 * it, so that sockets without PASTE pay one pointer. Everything but @owned
 * is protected by the socket lock.
 */
struct paste_sock {
	struct paste_region __rcu *region;
	struct paste_rxq *rxq;
	struct xarray owned;
	u32 refs_outstanding;
	u32 max_held;
	u64 bytes_placed;
	u64 bytes_copied;
	u64 bytes_zerocopy;
	u64 region_full;
	u64 held_full;
	u64 flushes;
	struct paste_pack pack;
	struct rcu_head rcu;
};

int paste_setsockopt(struct sock *sk, sockptr_t optval, unsigned int optlen);
int paste_getsockopt(struct sock *sk, sockptr_t optval, sockptr_t optlen);
int paste_ioctl(struct sock *sk, unsigned int cmd, void __user *arg);
size_t paste_diag_size(void);
int paste_diag_put(struct sock *sk, struct sk_buff *skb);

#if IS_ENABLED(CONFIG_PASTE)
void paste_sock_init(struct sock *sk);
void paste_sock_clone(struct sock *newsk, const struct sock *sk);
int paste_sock_inherit(struct sock *newsk, const struct sock *sk);
void paste_sock_close(struct sock *sk);
void paste_sock_destroy(struct sock *sk);
bool paste_sk_attached(const struct sock *sk);
int paste_recv_check(struct sock *sk, int flags);
int paste_recv_skb(struct sock *sk, const struct sk_buff *skb, u32 offset,
		   struct msghdr *msg, u32 len);
void paste_recv_done(struct sock *sk, int copied);
#else
static inline void paste_sock_init(struct sock *sk) {}
static inline void paste_sock_clone(struct sock *newsk,
				    const struct sock *sk) {}
static inline int paste_sock_inherit(struct sock *newsk,
				     const struct sock *sk)
{
	return 0;
}

static inline void paste_sock_close(struct sock *sk) {}
static inline void paste_sock_destroy(struct sock *sk) {}
static inline bool paste_sk_attached(const struct sock *sk)
{
	return false;
}

static inline int paste_recv_check(struct sock *sk, int flags)
{
	return -EOPNOTSUPP;
}

static inline int paste_recv_skb(struct sock *sk, const struct sk_buff *skb,
				 u32 offset, struct msghdr *msg, u32 len)
{
	return -EOPNOTSUPP;
}

static inline void paste_recv_done(struct sock *sk, int copied) {}
#endif

#endif /* _NET_PASTE_H */
