// SPDX-License-Identifier: GPL-2.0
/*
 * recvmsg(MSG_PASTE): return in-order TCP bytes as references to buffers of
 * the socket's region, one SCM_PASTE control message per buffer.
 *
 * Bytes that a bound device wrote into a region buffer are handed over in
 * place: the buffer moves from the rx map to the socket and the reference
 * points at the payload inside it, past the headers (see rxq.c).
 *
 * Other bytes are copied by the CPU, in process context with the socket
 * locked, into the buffer of the call's last reference while it has room,
 * then into a free buffer: small segments share buffers instead of taking
 * one each. With PASTE_REGION_DURABLE the copy uses non-temporal stores
 * and the call ends with a store fence, so the bytes are in the
 * persistence domain when recvmsg() returns. Bytes a device wrote are not:
 * the application writes them back (PASTE_IOC_FLUSH).
 */
#include <linux/highmem.h>
#include <linux/libnvdimm.h>
#include <linux/skbuff.h>
#include <linux/socket.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <net/compat.h>
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
	if (!paste_sk_attached(sk))
		return -EINVAL;
	return 0;
}

/* Whether @p lies in a page of persistent memory (a DAX file's page). */
static bool paste_in_pmem(const void *p)
{
	return virt_addr_valid(p) && is_zone_device_page(virt_to_page(p));
}

/*
 * Read @n bytes of pmem at @src, machine-check safe, as DAX reads do: a
 * poisoned line fails the receive instead of the machine.
 */
static int paste_read_pmem(void *dst, const void *src, u32 n)
{
	if (paste_debug_read_pmem_fail())
		return -EIO;
	return copy_mc_to_kernel(dst, src, n) ? -EIO : 0;
}

/*
 * Copy @len bytes at @offset of @skb to @dst, with non-temporal stores
 * (or written back) when @durable. Bytes in pmem pages (a slot the device
 * filled that the receive splits, a page of a DAX file spliced in) are
 * read with paste_read_pmem().
 */
static int paste_copy_skb(const struct sk_buff *skb, u32 offset, void *dst,
			  u32 len, bool durable)
{
	struct skb_seq_state st;
	const u8 *data;
	u32 done = 0, n;
	int err = 0;

	skb_prepare_seq_read((struct sk_buff *)skb, offset, offset + len, &st);
	while (done < len && (n = skb_seq_read(done, &data, &st)) != 0) {
		n = min(n, len - done);
		if (paste_in_pmem(data)) {
			err = paste_read_pmem(dst + done, data, n);
			if (err)
				break;
			if (durable)
				arch_wb_cache_pmem(dst + done, n);
		} else if (durable) {
			memcpy_flushcache(dst + done, data, n);
		} else {
			memcpy(dst + done, data, n);
		}
		done += n;
	}
	skb_abort_seq_read(&st);
	if (err)
		return err;
	return done == len ? 0 : -EFAULT;
}

/* The size of the header put_cmsg() writes before a reference. */
static size_t paste_cmsg_hdr(const struct msghdr *msg)
{
#ifdef CONFIG_COMPAT
	/* 4-byte aligned, as the 32-bit caller's CMSG_LEN() has it. */
	if (msg->msg_flags & MSG_CMSG_COMPAT)
		return sizeof(struct compat_cmsghdr);
#endif
	return CMSG_ALIGN(sizeof(struct cmsghdr));
}

/* Whether @msg has room for one more reference, untruncated. */
static bool paste_ref_fits(const struct msghdr *msg)
{
	return msg->msg_control &&
	       msg->msg_controllen >= paste_cmsg_hdr(msg) + sizeof(struct paste_ref);
}

/* Record a reference the socket now holds and return it. */
static int paste_give_ref(struct sock *sk, struct msghdr *msg,
			  struct paste_ref *ref)
{
	int err;

	/*
	 * Not put_cmsg_notrunc(): it sizes a 32-bit caller's room with the
	 * native header. put_cmsg() writes either layout.
	 */
	if (!paste_ref_fits(msg))
		return -EMSGSIZE;
	err = paste_sock_hold(sk, ref->token);
	if (err)
		return err;
	err = put_cmsg(msg, SOL_SOCKET, SCM_PASTE, sizeof(*ref), ref);
	if (err)
		paste_sock_forget(sk, ref->token, false);
	return err;
}

/*
 * Find byte @offset in the data of @skb alone, which starts at stream
 * offset *@start: true if it is there, with its page fragment (NULL for
 * the linear part) in *@frag and the bytes to the end of that part in
 * *@left. Otherwise *@start moves past @skb's data.
 */
static bool paste_frag_in(const struct sk_buff *skb, u32 offset, u32 *start,
			  const skb_frag_t **frag, u32 *left)
{
	const struct skb_shared_info *shi = skb_shinfo(skb);
	u32 end = *start + skb_headlen(skb);
	int i;

	*frag = NULL;
	for (i = -1; i < shi->nr_frags; i++) {
		if (i >= 0) {
			*frag = &shi->frags[i];
			end = *start + skb_frag_size(*frag);
		}
		if (offset < end) {
			*left = end - offset;
			return true;
		}
		*start = end;
	}
	return false;
}

/*
 * The page fragment of @skb that holds byte @offset, and in @left the
 * bytes from @offset to its end; NULL for a linear part. GRO chains
 * segments past MAX_SKB_FRAGS on the frag_list: their fragments count too.
 */
static const skb_frag_t *paste_frag_at(const struct sk_buff *skb, u32 offset,
				       u32 *left)
{
	const struct sk_buff *iter;
	const skb_frag_t *frag;
	u32 start = 0;

	if (paste_frag_in(skb, offset, &start, &frag, left))
		return frag;
	skb_walk_frags(skb, iter)
		if (paste_frag_in(iter, offset, &start, &frag, left))
			return frag;
	*left = U32_MAX;
	return NULL;
}

/*
 * Hand over the @left bytes at @offset of @frag if they lie in a buffer a
 * device filled. Return: bytes handed over, 0 if they do not, or an error.
 */
static int paste_take(struct sock *sk, struct paste_region *r,
		      const skb_frag_t *frag, u32 left, struct msghdr *msg)
{
	struct paste_ref ref = {};
	u32 slot;
	int err;

	if (!paste_slot_take_rx(r, skb_frag_page(frag), &slot))
		return 0;
	ref.offset = paste_slot_offset(r, slot) + skb_frag_off(frag) +
		     skb_frag_size(frag) - left;
	ref.len = left;
	ref.token = slot;
	err = paste_give_ref(sk, msg, &ref);
	if (err) {
		paste_slot_return_rx(r, slot);
		return err;
	}
	return left;
}

/* Copy @len bytes at @offset of @skb to byte @off of the region. */
static int paste_copy(struct paste_region *r, const struct sk_buff *skb,
		      u32 offset, u64 off, u32 len)
{
	int err;

	err = paste_copy_skb(skb, offset, paste_region_addr(r, off), len,
			     r->flags & PASTE_REGION_DURABLE);
	/* The page is mapped in user space too. */
	if (!err)
		flush_dcache_page(r->pages[off >> PAGE_SHIFT]);
	return err;
}

/* Where the length of the reference put_cmsg() writes next will lie. */
static u32 __user *paste_cmsg_len(const struct msghdr *msg)
{
	return msg->msg_control_user + paste_cmsg_hdr(msg) +
	       offsetof(struct paste_ref, len);
}

/*
 * Copy up to @len bytes into the buffer of the reference this call wrote
 * last, if it was a copy with room left and nothing followed it, and make
 * the reference longer where it lies in the control buffer. Return: bytes
 * copied, 0 if there is no such reference, or an error.
 */
static int paste_extend(struct sock *sk, struct paste_region *r,
			const struct sk_buff *skb, u32 offset,
			struct msghdr *msg, u32 len)
{
	struct paste_sock *ps = paste_sk(sk);
	struct paste_pack *pack = &ps->pack;
	u32 room = paste_slot_size(r) - pack->used;
	u64 off;
	int err;

	/*
	 * The socket lock is dropped while a call waits for data: another
	 * call may have written references since, or released this one.
	 */
	if (pack->msg != msg || pack->cursor != msg->msg_control_user ||
	    !room || !xa_load(&ps->owned, pack->slot))
		return 0;

	len = min(len, room);
	off = paste_slot_offset(r, pack->slot) - r->offset + pack->used;
	err = paste_copy(r, skb, offset, off, len);
	if (err)
		return err;
	if (put_user(pack->used + len - pack->start, pack->len))
		return -EFAULT;
	pack->used += len;
	return len;
}

/*
 * Remember the buffer a copy went to last, and the reference it got:
 * @ref's bytes end the buffer's @used.
 */
static void paste_pack_set(struct paste_pack *pack, const struct msghdr *msg,
			   u32 __user *ref_len, const struct paste_ref *ref,
			   u32 used, bool open)
{
	pack->msg = ref_len ? msg : NULL;
	pack->cursor = msg->msg_control_user;
	pack->len = ref_len;
	pack->slot = ref->token;
	pack->start = used - ref->len;
	pack->used = used;
	pack->open = open;
}

/*
 * With PASTE_REGION_PACK: copy up to @len bytes to the tail of the buffer
 * an earlier call copied into last, while the socket holds it, and give a
 * reference of their own. Return: bytes copied, 0 if there is no such
 * buffer or it is full, or an error.
 */
static int paste_append(struct sock *sk, struct paste_region *r,
			const struct sk_buff *skb, u32 offset,
			struct msghdr *msg, u32 len)
{
	struct paste_pack *pack = &paste_sk(sk)->pack;
	u32 room = paste_slot_size(r) - pack->used;
	struct paste_ref ref = {};
	u32 __user *ref_len = NULL;
	int err;

	if (!pack->open || !room)
		return 0;
	ref.offset = paste_slot_offset(r, pack->slot) + pack->used;
	ref.len = min(len, room);
	ref.token = pack->slot;
	err = paste_copy(r, skb, offset, ref.offset - r->offset, ref.len);
	if (err)
		return err;
	if (msg->msg_control_is_user)
		ref_len = paste_cmsg_len(msg);
	err = paste_give_ref(sk, msg, &ref);
	if (err)
		return err;
	paste_pack_set(pack, msg, ref_len, &ref, pack->used + ref.len, true);
	return ref.len;
}

/* Copy up to @len bytes into a free buffer and give its reference. */
static int paste_place(struct sock *sk, struct paste_region *r,
		       const struct sk_buff *skb, u32 offset,
		       struct msghdr *msg, u32 len)
{
	struct paste_pack *pack = &paste_sk(sk)->pack;
	struct paste_ref ref = {};
	u32 __user *ref_len = NULL;
	u32 slot;
	int err;

	slot = paste_slot_alloc(r);
	if (slot == PASTE_NO_SLOT)
		return -ENOBUFS;

	ref.offset = paste_slot_offset(r, slot);
	ref.len = min(len, paste_slot_size(r));
	ref.token = slot;

	err = paste_copy(r, skb, offset, ref.offset - r->offset, ref.len);
	if (err)
		goto err_free;
	if (msg->msg_control_is_user)
		ref_len = paste_cmsg_len(msg);
	err = paste_give_ref(sk, msg, &ref);
	if (err)
		goto err_free;

	paste_pack_set(pack, msg, ref_len, &ref, ref.len,
		       r->flags & PASTE_REGION_PACK);
	return ref.len;

err_free:
	paste_slot_free(r, slot);
	return err;
}

/*
 * The most buffers a socket may hold: its own limit, or with
 * PASTE_REGION_PACK a quarter of the region, so that no connection can
 * take all of a region its peers share; 0 for none.
 */
static u32 paste_max_held(const struct paste_sock *ps,
			  const struct paste_region *r)
{
	if (ps->max_held || !(r->flags & PASTE_REGION_PACK))
		return ps->max_held;
	return max(r->nr_slots / 4, 1U);
}

/* Whether @msg may get a reference to another buffer, as an errno. */
static int paste_may_give(const struct paste_sock *ps,
			  const struct paste_region *r,
			  const struct msghdr *msg)
{
	u32 max_held = paste_max_held(ps, r);

	if (!paste_ref_fits(msg))
		return -EMSGSIZE;
	if (max_held && ps->refs_outstanding >= max_held)
		return -EDQUOT;
	return 0;
}

/*
 * With PASTE_REGION_PACK, a device-filled fragment this small is copied
 * into a shared buffer: handed over, each would keep a page (a peer
 * sending a byte at a time would hold a page per byte).
 */
#define PASTE_PACK_COPY_BELOW	512

static bool paste_pack_copies(const struct paste_region *r, u32 left)
{
	return (r->flags & PASTE_REGION_PACK) && left < PASTE_PACK_COPY_BELOW;
}

/**
 * paste_recv_skb - place bytes of an skb into the socket's region
 * @sk: the socket, locked
 * @skb: an skb of the receive queue
 * @offset: offset of the first byte to place in @skb
 * @msg: the recvmsg() message, receives the references
 * @len: number of bytes available at @offset
 *
 * A page fragment that a bound device filled is handed over whole when it
 * fits in @len. Everything else is copied: into the buffer of the last
 * reference this call gave while it has room, then into free buffers, a
 * buffer at a time. Stops early, without error, when a new buffer is
 * needed and the region has none, the socket holds as many buffers as it
 * may, or @msg has no room for another reference; the rest stays queued
 * on the socket.
 *
 * Return: bytes placed, or a negative errno if none: -ENOBUFS (region
 * exhausted), -EDQUOT (the socket's limit on buffers held reached),
 * -EMSGSIZE (no room for a reference), -EIO (a poisoned line of pmem was
 * read), -EFAULT, -ENOMEM.
 */
int paste_recv_skb(struct sock *sk, const struct sk_buff *skb, u32 offset,
		   struct msghdr *msg, u32 len)
{
	struct paste_region *r = paste_sk_region(sk);
	struct paste_sock *ps = paste_sk(sk);
	struct net *net = sock_net(sk);
	u32 done = 0, taken = 0, split = 0, small = 0;
	int err = 0;

	if (!skb_frags_readable(skb))
		return -EFAULT;

	while (done < len) {
		u32 n = len - done;
		bool is_split = false, is_small = false;

		if (READ_ONCE(r->zerocopy)) {
			const skb_frag_t *frag;
			u32 left;

			frag = paste_frag_at(skb, offset + done, &left);
			is_small = frag && paste_pack_copies(r, left);
			if (frag && left <= n && !is_small) {
				err = paste_may_give(ps, r, msg);
				if (!err)
					err = paste_take(sk, r, frag, left, msg);
				if (err < 0)
					break;
				if (err) {
					done += err;
					taken += err;
					err = 0;
					continue;
				}
			}
			is_split = frag && left > n;
			/* Copy no further than the next fragment. */
			n = min(n, left);
		}
		err = paste_extend(sk, r, skb, offset + done, msg, n);
		if (!err)
			err = paste_append(sk, r, skb, offset + done, msg, n);
		if (!err) {
			err = paste_may_give(ps, r, msg);
			if (!err)
				err = paste_place(sk, r, skb, offset + done,
						  msg, n);
		}
		if (err < 0)
			break;
		done += err;
		if (is_split)
			split += err;
		else if (is_small)
			small += err;
		err = 0;
	}

	/*
	 * Count a receive that found the region exhausted once: a partial
	 * placement is retried by the caller and fails with nothing placed.
	 */
	if (err == -ENOBUFS && !done) {
		ps->region_full++;
		PASTE_INC_STATS(net, PASTE_MIB_REGION_FULL);
	}
	if (err == -EDQUOT && !done) {
		ps->held_full++;
		PASTE_INC_STATS(net, PASTE_MIB_HELD_FULL);
	}
	ps->bytes_placed += done;
	ps->bytes_copied += done - taken;
	ps->bytes_zerocopy += taken;
	PASTE_ADD_STATS(net, PASTE_MIB_BYTES_PLACED, done);
	PASTE_ADD_STATS(net, PASTE_MIB_BYTES_COPIED, done - taken);
	PASTE_ADD_STATS(net, PASTE_MIB_BYTES_ZEROCOPY, taken);
	if (READ_ONCE(r->zerocopy)) {
		PASTE_ADD_STATS(net, PASTE_MIB_COPY_SPLIT, split);
		PASTE_ADD_STATS(net, PASTE_MIB_COPY_SMALL, small);
		PASTE_ADD_STATS(net, PASTE_MIB_COPY_FOREIGN,
				done - taken - split - small);
	}
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
	struct paste_region *r = paste_sk_region(sk);
	struct paste_sock *ps = paste_sk(sk);

	if (ps)
		ps->pack.msg = NULL;
	if (copied > 0 && r && (r->flags & PASTE_REGION_DURABLE))
		pmem_wmb();
}
