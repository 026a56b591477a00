// SPDX-License-Identifier: GPL-2.0
/*
 * recvmsg(MSG_PASTE): place in-order TCP bytes into free slots of the
 * socket's region and return one SCM_PASTE reference per slot.
 *
 * This is the copying placement: the CPU copies each byte once, from the
 * skb into the region, in process context with the socket locked. With
 * PASTE_REGION_DURABLE the copy uses non-temporal stores and the call ends
 * with a store fence, so the bytes are in the persistence domain when
 * recvmsg() returns.
 */
#include <linux/highmem.h>
#include <linux/skbuff.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <net/sock.h>

#include "paste.h"

/**
 * paste_recv_check - check a recvmsg(MSG_PASTE) before locking the socket
 * @sk: the socket
 * @flags: the recvmsg() flags
 *
 * Return: 0, -EOPNOTSUPP for flags that make no sense with references, or
 * -EINVAL when no region is attached.
 */
int paste_recv_check(struct sock *sk, int flags)
{
	if (flags & (MSG_PEEK | MSG_TRUNC | MSG_OOB | MSG_SOCK_DEVMEM))
		return -EOPNOTSUPP;
	if (!READ_ONCE(sk->sk_paste.region))
		return -EINVAL;
	return 0;
}

/* Copy with non-temporal stores, bypassing the CPU cache. */
static int paste_copy_flushcache(const struct sk_buff *skb, u32 offset,
				 void *dst, u32 len)
{
	struct skb_seq_state st;
	const u8 *data;
	u32 done = 0, n;

	skb_prepare_seq_read((struct sk_buff *)skb, offset, offset + len, &st);
	while (done < len && (n = skb_seq_read(done, &data, &st)) != 0) {
		n = min(n, len - done);
		memcpy_flushcache(dst + done, data, n);
		done += n;
	}
	skb_abort_seq_read(&st);
	return done == len ? 0 : -EFAULT;
}

static int paste_place(struct sock *sk, struct paste_region *r,
		       const struct sk_buff *skb, u32 offset,
		       struct msghdr *msg, u32 len)
{
	struct paste_sock *ps = &sk->sk_paste;
	struct paste_ref ref = {};
	u32 slot;
	int err;

	slot = paste_slot_alloc(r);
	if (slot == PASTE_NO_SLOT)
		return -ENOBUFS;

	ref.offset = paste_slot_offset(r, slot);
	ref.len = len;
	ref.token = slot;

	if (r->flags & PASTE_REGION_DURABLE)
		err = paste_copy_flushcache(skb, offset,
					    paste_region_addr(r, ref.offset - r->offset),
					    len);
	else
		err = skb_copy_bits(skb, offset,
				    paste_region_addr(r, ref.offset - r->offset),
				    len);
	if (err)
		goto err_free;
	/* The page is mapped in user space too. */
	flush_dcache_page(r->pages[(ref.offset - r->offset) >> PAGE_SHIFT]);

	err = xa_err(xa_store_bh(&ps->owned, slot, xa_mk_value(len),
				 GFP_KERNEL_ACCOUNT));
	if (err)
		goto err_free;

	err = put_cmsg_notrunc(msg, SOL_SOCKET, SCM_PASTE, sizeof(ref), &ref);
	if (err) {
		xa_erase_bh(&ps->owned, slot);
		goto err_free;
	}
	ps->refs_outstanding++;
	atomic64_inc(&paste_stats.refs_outstanding);
	return 0;

err_free:
	paste_slot_free(r, slot);
	return err;
}

/**
 * paste_recv_skb - place bytes of an skb into the socket's region
 * @sk: the socket, locked
 * @skb: an skb of the receive queue
 * @offset: offset of the first byte to place in @skb
 * @msg: the recvmsg() message, receives the references
 * @len: number of bytes available at @offset
 *
 * Stops early, without error, when the region has no free slot or @msg has
 * no room for another reference; the rest stays queued on the socket.
 *
 * Return: bytes placed, or a negative errno if none: -ENOBUFS (region
 * exhausted), -EMSGSIZE (no room for a reference), -EFAULT, -ENOMEM.
 */
int paste_recv_skb(struct sock *sk, const struct sk_buff *skb, u32 offset,
		   struct msghdr *msg, u32 len)
{
	struct paste_sock *ps = &sk->sk_paste;
	struct paste_region *r = ps->region;
	u32 done = 0;
	int err = 0;

	if (!skb_frags_readable(skb))
		return -EFAULT;

	while (done < len) {
		u32 n = min(len - done, paste_slot_size(r));

		if (!msg->msg_control ||
		    msg->msg_controllen < CMSG_LEN(sizeof(struct paste_ref))) {
			err = -EMSGSIZE;
			break;
		}
		err = paste_place(sk, r, skb, offset + done, msg, n);
		if (err)
			break;
		done += n;
	}

	/*
	 * Count a receive that found the region exhausted once: a partial
	 * placement is retried by the caller and fails with nothing placed.
	 */
	if (err == -ENOBUFS && !done) {
		ps->region_full++;
		atomic64_inc(&paste_stats.region_full);
	}
	ps->bytes_placed += done;
	ps->bytes_copied += done;
	atomic64_add(done, &paste_stats.bytes_placed);
	atomic64_add(done, &paste_stats.bytes_copied);
	return done ? done : err;
}

/**
 * paste_recv_done - finish a recvmsg(MSG_PASTE)
 * @sk: the socket, locked
 * @copied: what tcp_recvmsg_locked() returned
 *
 * Orders the non-temporal stores of durable placement before the return to
 * user space: one fence per call, not per buffer.
 */
void paste_recv_done(struct sock *sk, int copied)
{
	struct paste_region *r = sk->sk_paste.region;

	if (copied > 0 && r && (r->flags & PASTE_REGION_DURABLE))
		pmem_wmb();
}
