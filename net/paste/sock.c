// SPDX-License-Identifier: GPL-2.0
/*
 * PASTE socket state: attaching a region, inheritance by accepted sockets,
 * counters (getsockopt and inet_diag), and returning a socket's buffers
 * when it goes away.
 */
#include <linux/inet_diag.h>
#include <linux/slab.h>
#include <linux/tcp.h>
#include <net/inet_connection_sock.h>
#include <net/netlink.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "paste.h"

/**
 * paste_sock_init - initialise the PASTE state of a new TCP socket
 * @sk: the socket
 *
 * A socket has no state until a region is attached or inherited.
 */
void paste_sock_init(struct sock *sk)
{
	RCU_INIT_POINTER(tcp_sk(sk)->paste, NULL);
}

/**
 * paste_sock_clone - forget the listener's state in a new child socket
 * @newsk: the new socket, a copy of @sk
 * @sk: the listening socket
 *
 * Runs in softirq context, before anything can destroy @newsk, which must
 * not free the listener's state. paste_sock_inherit() gives it its own.
 */
void paste_sock_clone(struct sock *newsk, const struct sock *sk)
{
	paste_sock_init(newsk);
}

static struct paste_sock *paste_sock_alloc(gfp_t gfp)
{
	struct paste_sock *ps = kzalloc(sizeof(*ps), gfp);

	if (ps)
		/* The lock disables BHs: a socket may be destroyed in softirq. */
		xa_init_flags(&ps->owned, XA_FLAGS_LOCK_BH);
	return ps;
}

/**
 * paste_sock_inherit - give a socket accepted on @sk the region of @sk
 * @newsk: the new socket, not yet visible to lookups
 * @sk: the listening socket
 *
 * Runs in softirq context. The child starts with no buffers of its own and
 * the listener's limit on buffers held.
 *
 * Return: 0, or -ENOMEM, on which the caller drops the new socket as it
 * does when it cannot copy the listener's MD5 keys.
 */
int paste_sock_inherit(struct sock *newsk, const struct sock *sk)
{
	const struct paste_sock *lps;
	struct paste_region *r;
	struct paste_sock *ps;
	u32 max_held = 0;

	rcu_read_lock();
	lps = rcu_dereference(tcp_sk(sk)->paste);
	r = lps ? paste_region_get_rcu(rcu_dereference(lps->region)) : NULL;
	if (r) {
		/* Pairs with rcu_assign_pointer() in paste_setsockopt(). */
		smp_rmb();
		max_held = READ_ONCE(lps->max_held);
	}
	rcu_read_unlock();
	if (!r)
		return 0;

	ps = paste_debug_inherit_fail() ? NULL : paste_sock_alloc(GFP_ATOMIC);
	if (!ps) {
		paste_region_put(r);
		return -ENOMEM;
	}
	ps->max_held = max_held;
	RCU_INIT_POINTER(ps->region, r);
	RCU_INIT_POINTER(tcp_sk(newsk)->paste, ps);
	return 0;
}

/*
 * A buffer a socket holds is an entry of &paste_sock.owned at its slot:
 * the number of references to it, times PASTE_HOLD_REF, plus PASTE_HOLD_PIN
 * once one of them was pinned. Without PASTE_REGION_PACK a buffer has one
 * reference. A buffer is pinned when its last reference goes, if one of
 * them was pinned: it is never held and pinned at once, so no other socket
 * can free it while this one still has references into it.
 */
#define PASTE_HOLD_PIN		1UL
#define PASTE_HOLD_REF		2UL

/**
 * paste_sock_hold - record one more reference to a buffer
 * @sk: the socket, locked
 * @slot: a buffer the socket takes, or holds already
 *
 * Return: 0 or -ENOMEM.
 */
int paste_sock_hold(struct sock *sk, u32 slot)
{
	struct paste_sock *ps = paste_sk(sk);
	void *old = xa_load(&ps->owned, slot);
	unsigned long v = PASTE_HOLD_REF;
	int err;

	if (old)
		v += xa_to_value(old);
	err = xa_err(xa_store_bh(&ps->owned, slot, xa_mk_value(v),
				 GFP_KERNEL_ACCOUNT));
	if (err || old)
		return err;
	ps->refs_outstanding++;
	PASTE_INC_STATS(sock_net(sk), PASTE_MIB_REFS_OUTSTANDING);
	return 0;
}

/**
 * paste_sock_forget - drop one reference to a buffer the socket holds
 * @sk: the socket, locked
 * @slot: a buffer in &paste_sock.owned
 * @pin: the reference is pinned rather than released
 *
 * A recvmsg() waiting for data may still mean to extend, or append to,
 * the buffer: not once the socket no longer holds it, as it may change
 * hands before that call wakes up.
 *
 * Return: %PASTE_STILL_HELD while other references remain. Otherwise the
 * socket no longer holds the buffer, which the caller pins
 * (%PASTE_DROP_PIN: this or an earlier reference was pinned) or frees
 * (%PASTE_DROP_FREE).
 */
enum paste_drop paste_sock_forget(struct sock *sk, u32 slot, bool pin)
{
	struct paste_sock *ps = paste_sk(sk);
	unsigned long v = xa_to_value(xa_load(&ps->owned, slot));

	v = (v | (pin ? PASTE_HOLD_PIN : 0)) - PASTE_HOLD_REF;
	if (v >= PASTE_HOLD_REF) {
		/* Replacing an entry allocates nothing. */
		WARN_ON_ONCE(xa_is_err(xa_store_bh(&ps->owned, slot,
						   xa_mk_value(v), GFP_KERNEL)));
		return PASTE_STILL_HELD;
	}
	xa_erase_bh(&ps->owned, slot);
	ps->refs_outstanding--;
	PASTE_DEC_STATS(sock_net(sk), PASTE_MIB_REFS_OUTSTANDING);
	if (ps->pack.slot == slot) {
		ps->pack.msg = NULL;
		ps->pack.open = false;
	}
	return v & PASTE_HOLD_PIN ? PASTE_DROP_PIN : PASTE_DROP_FREE;
}

/* Free slots a socket held: a lock round trip per batch, not per slot. */
#define PASTE_FREE_BATCH	64

/*
 * Return the socket's buffers and drop its region: a buffer one of whose
 * references was pinned is pinned, the others are freed. The socket is
 * locked, or being destroyed and out of everybody else's reach.
 */
static void paste_sock_drop(struct sock *sk, struct paste_sock *ps,
			    bool can_sleep)
{
	u32 batch[PASTE_FREE_BATCH];
	struct paste_region *r;
	unsigned long slot;
	unsigned int n = 0;
	void *entry;

	paste_rxq_sock_destroy(ps);
	r = rcu_replace_pointer(ps->region, NULL, true);
	if (!r)
		return;

	xa_for_each(&ps->owned, slot, entry) {
		if (xa_to_value(entry) & PASTE_HOLD_PIN) {
			paste_slot_pin(r, slot);
			continue;
		}
		batch[n++] = slot;
		if (n < PASTE_FREE_BATCH)
			continue;
		paste_slots_free(r, batch, n);
		n = 0;
		if (can_sleep)
			cond_resched();
	}
	paste_slots_free(r, batch, n);
	xa_destroy(&ps->owned);
	PASTE_ADD_STATS(sock_net(sk), PASTE_MIB_REFS_OUTSTANDING,
			-(s64)ps->refs_outstanding);
	ps->refs_outstanding = 0;
	paste_region_put(r);
}

/**
 * paste_sock_close - return a socket's buffers and drop its region at close
 * @sk: the socket, locked, in process context
 *
 * An orphaned socket that outlives its process holds no region. Pinned
 * buffers belong to the region and stay where they are. A receive queue the
 * socket bound is unbound.
 */
void paste_sock_close(struct sock *sk)
{
	struct paste_sock *ps = paste_sk(sk);

	if (ps)
		paste_sock_drop(sk, ps, true);
}

/**
 * paste_sock_destroy - the same at destruction, in any context
 * @sk: the socket
 *
 * Finds no region left for a socket that was closed; a child that was
 * never accepted still holds its region. The state itself goes after an
 * RCU grace period: a child may be reading a listener's.
 */
void paste_sock_destroy(struct sock *sk)
{
	struct paste_sock *ps = rcu_replace_pointer(tcp_sk(sk)->paste, NULL,
						    true);

	if (!ps)
		return;
	paste_sock_drop(sk, ps, false);
	kfree_rcu(ps, rcu);
}

/**
 * paste_sk_attached - does a socket have a PASTE region?
 * @sk: the socket
 *
 * Features that take over the socket's receive path (a ULP such as kTLS,
 * a sockmap) would bypass MSG_PASTE, and are refused on such sockets.
 *
 * Return: true if a region is attached.
 */
bool paste_sk_attached(const struct sock *sk)
{
	const struct paste_sock *ps;
	bool attached;

	if (!sk_is_tcp(sk))
		return false;
	rcu_read_lock();
	ps = rcu_dereference(tcp_sk(sk)->paste);
	attached = ps && rcu_access_pointer(ps->region);
	rcu_read_unlock();
	return attached;
}

/* Called with the socket locked. */
static int paste_sock_can_attach(const struct sock *sk)
{
	if (paste_sk_region(sk))
		return -EBUSY;
	/*
	 * A ULP (kTLS, ...) or a sockmap takes over the receive path and
	 * would ignore MSG_PASTE; kTLS does so only once configured.
	 */
	if (inet_csk(sk)->icsk_ulp_ops ||
	    READ_ONCE(sk->sk_prot)->recvmsg != tcp_recvmsg)
		return -EOPNOTSUPP;
	if (!((1 << sk->sk_state) &
	      (TCPF_CLOSE | TCPF_LISTEN | TCPF_ESTABLISHED | TCPF_CLOSE_WAIT)))
		return -EOPNOTSUPP;
	return 0;
}

/**
 * paste_setsockopt - setsockopt(SO_PASTE_REGION): attach a region
 * @sk: a TCP socket
 * @optval: a struct paste_region_req
 * @optlen: its size
 *
 * The socket is checked before and after the region is found or created,
 * which may sleep for long without the socket lock. The buffers the
 * request claimed as owned become pinned if the second check passes, and
 * free again if it fails: nobody else could use them in between.
 *
 * Return: 0 or a negative errno, see Documentation/networking/paste.rst.
 */
int paste_setsockopt(struct sock *sk, sockptr_t optval, unsigned int optlen)
{
	struct paste_region_req req;
	unsigned long *claimed;
	struct paste_region *r;
	struct paste_sock *ps;
	int err;

	if (!sk_is_tcp(sk))
		return -EOPNOTSUPP;
	if (optlen != sizeof(req))
		return -EINVAL;
	if (copy_from_sockptr(&req, optval, sizeof(req)))
		return -EFAULT;

	lock_sock(sk);
	err = paste_sock_can_attach(sk);
	release_sock(sk);
	if (err)
		return err;

	r = paste_region_attach(&req, sock_net(sk), &claimed);
	if (IS_ERR(r))
		return PTR_ERR(r);

	lock_sock(sk);
	err = paste_sock_can_attach(sk);
	ps = paste_sk(sk);
	if (!err && !ps) {
		ps = paste_sock_alloc(GFP_KERNEL_ACCOUNT);
		if (ps)
			rcu_assign_pointer(tcp_sk(sk)->paste, ps);
		else
			err = -ENOMEM;
	}
	if (!err) {
		/* Children copy the limit once they see the region. */
		WRITE_ONCE(ps->max_held, req.max_held);
		rcu_assign_pointer(ps->region, r);
	}
	release_sock(sk);

	if (claimed)
		paste_slots_claim_end(r, claimed, !err);
	if (err)
		paste_region_put(r);
	kvfree(claimed);
	return err;
}

/*
 * The region's and the socket's state. Counters of the socket are read
 * without its lock for inet_diag: a snapshot, each field whole.
 */
static void paste_sock_info_fill(const struct paste_sock *ps,
				 const struct paste_region *r,
				 struct paste_sock_info *info)
{
	info->region_offset = r->offset;
	info->region_length = r->length;
	info->slot_size = paste_slot_size(r);
	info->nr_slots = r->nr_slots;
	info->flags = r->flags;
	info->slots_free = READ_ONCE(r->nr_free);
	info->slots_pinned = READ_ONCE(r->nr_pinned);
	info->slots_rx = READ_ONCE(r->nr_rx);
	info->refs_outstanding = READ_ONCE(ps->refs_outstanding);
	info->max_held = READ_ONCE(ps->max_held);
	info->bytes_placed = READ_ONCE(ps->bytes_placed);
	info->bytes_copied = READ_ONCE(ps->bytes_copied);
	info->bytes_zerocopy = READ_ONCE(ps->bytes_zerocopy);
	info->region_full = READ_ONCE(ps->region_full);
	info->held_full = READ_ONCE(ps->held_full);
	info->flushes = READ_ONCE(ps->flushes);
}

/**
 * paste_getsockopt - getsockopt(SO_PASTE_REGION): region and counters
 * @sk: a TCP socket
 * @optval: receives a struct paste_sock_info
 * @optlen: its size in, the size written out
 *
 * Return: 0 or a negative errno.
 */
int paste_getsockopt(struct sock *sk, sockptr_t optval, sockptr_t optlen)
{
	struct paste_sock_info info = {};
	struct paste_region *r;
	int len;

	if (!sk_is_tcp(sk))
		return -EOPNOTSUPP;
	if (copy_from_sockptr(&len, optlen, sizeof(len)))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;

	lock_sock(sk);
	r = paste_sk_region(sk);
	if (r)
		paste_sock_info_fill(paste_sk(sk), r, &info);
	release_sock(sk);

	if (!r)
		return -ENOENT;

	len = min_t(unsigned int, len, sizeof(info));
	if (copy_to_sockptr(optval, &info, len) ||
	    copy_to_sockptr(optlen, &len, sizeof(len)))
		return -EFAULT;
	return 0;
}

/**
 * paste_diag_size - room for paste_diag_put() in an inet_diag message
 *
 * Reserved for every full TCP socket, so that a region attached between
 * sizing and filling the message still fits.
 *
 * Return: the size of the attribute.
 */
size_t paste_diag_size(void)
{
	return nla_total_size_64bit(sizeof(struct paste_sock_info));
}
EXPORT_SYMBOL_GPL(paste_diag_size);

/**
 * paste_diag_put - add %INET_DIAG_PASTE for a socket with a region
 * @sk: a full TCP socket, locked or not
 * @skb: the inet_diag message
 *
 * Lets ss(8) show the region and counters that getsockopt(SO_PASTE_REGION)
 * shows its owner.
 *
 * Return: 0 (also when no region is attached) or -EMSGSIZE.
 */
int paste_diag_put(struct sock *sk, struct sk_buff *skb)
{
	struct paste_sock_info info = {};
	struct paste_region *r = NULL;
	struct paste_sock *ps;

	rcu_read_lock();
	ps = rcu_dereference(tcp_sk(sk)->paste);
	if (ps)
		r = rcu_dereference(ps->region);
	if (r)
		paste_sock_info_fill(ps, r, &info);
	rcu_read_unlock();
	if (!r)
		return 0;
	return nla_put_64bit(skb, INET_DIAG_PASTE, sizeof(info), &info,
			     INET_DIAG_PAD);
}
EXPORT_SYMBOL_GPL(paste_diag_put);
