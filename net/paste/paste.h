/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PASTE internals shared by the files of net/paste/.
 */
#ifndef _NET_PASTE_PASTE_H
#define _NET_PASTE_PASTE_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/tcp.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include <net/paste.h>
#include <net/sock.h>
#include <uapi/linux/paste.h>

#define PASTE_NO_SLOT		U32_MAX
/* At most 2^24 slots: 64 GiB of page-sized buffers. */
#define PASTE_MAX_SLOTS		BIT(24)

/**
 * struct paste_region - a region of a file whose pages hold PASTE buffers
 * @node: entry in the list of regions, under paste_regions_mutex
 * @refcnt: one per socket attached, plus one while being set up
 * @file: the file, held open while the region exists
 * @offset: file offset of the region
 * @length: length of the region
 * @flags: PASTE_REGION_* flags
 * @dax: the file is on a DAX filesystem (otherwise volatile shmem)
 * @slot_shift: log2 of the slot (buffer) size
 * @nr_slots: number of slots
 * @nr_pages: number of pinned pages in @pages
 * @pages: the region's pages, pinned from the creator's mapping
 * @user: the creator, charged @nr_pages of RLIMIT_MEMLOCK; NULL when it
 *	had CAP_IPC_LOCK
 * @mm: the creator's mm, whose pinned_vm counts @nr_pages
 * @net_cookie: cookie of the creator's network namespace, whose
 *	/proc/net/paste lists the region
 * @uid: the creator's fsuid; only that user and CAP_NET_ADMIN see the
 *	region in /proc/net/paste
 * @lock: protects the slot maps and counts below
 * @free: map of free slots
 * @pinned: map of pinned slots
 * @rx: map of slots posted to a bound device or filled by it and held by
 *	an skb, or freed while their page was still referenced; a slot in
 *	none of the three maps is held by a socket or claimed by an attach
 *	(net/paste/slot.c has the states and their changes)
 * @filled: map of the @rx slots a bound device wrote into
 * @nr_free: number of bits set in @free
 * @nr_pinned: number of bits set in @pinned
 * @nr_rx: number of bits set in @rx
 * @hint: where the next search for a free slot starts
 * @rx_hint: where the next search for a reclaimable @rx slot starts
 * @zerocopy: a device has been bound to the region: a free slot may still
 *	be referenced by an skb, and is only reused once its page is idle
 * @nr_bound: receive queues bound to the region now
 * @reclaim_work: with no queue bound, frees @rx slots whose skbs go away
 * @draining: the last reference is gone, and the teardown waits for pages
 *	of the region that skbs (or pipes) elsewhere still reference
 * @free_work: tears the region down in process context, once no page is
 *	referenced from elsewhere
 * @rcu: frees the structure after readers in softirq context are done
 */
struct paste_region {
	struct list_head node;
	refcount_t refcnt;
	struct file *file;
	u64 offset;
	u64 length;
	u32 flags;
	bool dax;
	u8 slot_shift;
	u32 nr_slots;
	unsigned long nr_pages;
	struct page **pages;
	struct user_struct *user;
	struct mm_struct *mm;
	u64 net_cookie;
	kuid_t uid;

	spinlock_t lock;	/* protects the slot maps and counts */
	unsigned long *free;
	unsigned long *pinned;
	unsigned long *rx;
	unsigned long *filled;
	u32 nr_free;
	u32 nr_pinned;
	u32 nr_rx;
	u32 hint;
	u32 rx_hint;
	bool zerocopy;
	u32 nr_bound;
	struct delayed_work reclaim_work;

	bool draining;
	struct delayed_work free_work;
	struct rcu_head rcu;
};

/**
 * enum paste_mib_field - counters of a network namespace, in /proc/net/paste
 * @PASTE_MIB_BYTES_PLACED: bytes placed into regions
 * @PASTE_MIB_BYTES_COPIED: of those, bytes copied by the CPU
 * @PASTE_MIB_BYTES_ZEROCOPY: of those, bytes a device placed, handed over
 *	in place
 * @PASTE_MIB_REFS_OUTSTANDING: buffers held by sockets
 * @PASTE_MIB_REGION_FULL: times a socket found its region exhausted
 * @PASTE_MIB_HELD_FULL: times a socket was refused a buffer at its limit
 *	on buffers held
 * @PASTE_MIB_FLUSHES: ranges written back through PASTE_IOC_FLUSH
 * @PASTE_MIB_RX_POSTED: region buffers posted to bound devices
 * @PASTE_MIB_RX_FILLED: of those, buffers a device filled
 * @PASTE_MIB_RX_BYTES: bytes devices wrote into region buffers, headers
 *	included
 * @PASTE_MIB_RX_FALLBACK: ordinary pages a bound device got instead of a
 *	region buffer, because the region was below its reserve of free
 *	buffers
 * @PASTE_MIB_COPY_FOREIGN: bytes copied because they were not in a
 *	device-filled buffer of the socket's region (loopback, another device,
 *	a fallback page, a coalesced or collapsed skb)
 * @PASTE_MIB_COPY_SPLIT: bytes copied because a filled buffer held more
 *	than the receive could take
 * @PASTE_MIB_COPY_SMALL: bytes of small device-filled frames copied into
 *	a shared buffer (%PASTE_REGION_PACK) rather than each handed over in
 *	a page of its own
 * @PASTE_MIB_MAX: number of counters
 *
 * Socket events count in the socket's namespace, device events in the
 * device's.
 */
enum paste_mib_field {
	PASTE_MIB_BYTES_PLACED,
	PASTE_MIB_BYTES_COPIED,
	PASTE_MIB_BYTES_ZEROCOPY,
	PASTE_MIB_REFS_OUTSTANDING,
	PASTE_MIB_REGION_FULL,
	PASTE_MIB_HELD_FULL,
	PASTE_MIB_FLUSHES,
	PASTE_MIB_RX_POSTED,
	PASTE_MIB_RX_FILLED,
	PASTE_MIB_RX_BYTES,
	PASTE_MIB_RX_FALLBACK,
	PASTE_MIB_COPY_FOREIGN,
	PASTE_MIB_COPY_SPLIT,
	PASTE_MIB_COPY_SMALL,
	PASTE_MIB_MAX
};

/**
 * struct paste_mib - one CPU's share of a namespace's counters
 * @mibs: deltas by &enum paste_mib_field; a gauge such as
 *	%PASTE_MIB_REFS_OUTSTANDING is the sum over all CPUs
 */
struct paste_mib {
	u64 mibs[PASTE_MIB_MAX];
};

struct paste_mib __percpu *paste_net_mib(const struct net *net);

/**
 * enum paste_drop - what becomes of a buffer a socket drops a reference to
 * @PASTE_STILL_HELD: other references remain; the socket still holds it
 * @PASTE_DROP_FREE: the socket no longer holds it; it is to be freed
 * @PASTE_DROP_PIN: the socket no longer holds it; it is to be pinned
 */
enum paste_drop {
	PASTE_STILL_HELD,
	PASTE_DROP_FREE,
	PASTE_DROP_PIN,
};

int paste_sock_hold(struct sock *sk, u32 slot);
enum paste_drop paste_sock_forget(struct sock *sk, u32 slot, bool pin);

#define PASTE_ADD_STATS(net, field, val) \
	this_cpu_add(paste_net_mib(net)->mibs[field], (val))
#define PASTE_INC_STATS(net, field)	PASTE_ADD_STATS(net, field, 1)
#define PASTE_DEC_STATS(net, field)	PASTE_ADD_STATS(net, field, -1)

/* The PASTE state of @sk, a TCP socket the caller has locked, or NULL. */
static inline struct paste_sock *paste_sk(const struct sock *sk)
{
	return rcu_dereference_protected(tcp_sk(sk)->paste,
					 lockdep_sock_is_held(sk));
}

/* The region of @sk, which the caller has locked. */
static inline struct paste_region *paste_sk_region(const struct sock *sk)
{
	struct paste_sock *ps = paste_sk(sk);

	return ps ? rcu_dereference_protected(ps->region,
					      lockdep_sock_is_held(sk)) : NULL;
}

static inline u32 paste_slot_size(const struct paste_region *r)
{
	return 1U << r->slot_shift;
}

static inline u64 paste_slot_offset(const struct paste_region *r, u32 slot)
{
	return r->offset + ((u64)slot << r->slot_shift);
}

/* Kernel address of byte @off of the region; never crosses a page. */
static inline void *paste_region_addr(const struct paste_region *r, u64 off)
{
	return page_address(r->pages[off >> PAGE_SHIFT]) + offset_in_page(off);
}

struct paste_region *paste_region_attach(const struct paste_region_req *req,
					 const struct net *net,
					 unsigned long **claimed);
void paste_region_put(struct paste_region *r);
struct paste_region *paste_region_get_rcu(struct paste_region *r);

int paste_slot_maps_alloc(struct paste_region *r);
void paste_slot_maps_free(struct paste_region *r);
void paste_slot_reclaim_init(struct paste_region *r);
bool paste_slots_idle(struct paste_region *r);
int paste_slots_claim(struct paste_region *r, const struct paste_range *ranges,
		      u32 nr, unsigned long *claimed);
void paste_slots_claim_end(struct paste_region *r, const unsigned long *claimed,
			   bool commit);
u32 paste_slot_alloc(struct paste_region *r);
void paste_slot_free(struct paste_region *r, u32 slot);
void paste_slots_free(struct paste_region *r, const u32 *slots, unsigned int n);
void paste_slot_pin(struct paste_region *r, u32 slot);
bool paste_slot_pinned(struct paste_region *r, u32 slot);
int paste_slot_unpin(struct paste_region *r, u32 slot);
u32 paste_slot_post(struct paste_region *r, u32 reserve);
void paste_slot_filled(struct paste_region *r, const struct page *page);
bool paste_slot_take_rx(struct paste_region *r, const struct page *page,
			u32 *slot);
void paste_slot_return_rx(struct paste_region *r, u32 slot);
void paste_region_bind_rx(struct paste_region *r);
void paste_region_unbind_rx(struct paste_region *r);

void paste_rxq_sock_destroy(struct paste_sock *ps);
int paste_rxq_bind_ioctl(struct sock *sk, void __user *arg);

int paste_proc_show_regions(struct seq_file *seq, const struct net *net);

#ifdef CONFIG_PASTE_DEBUG
bool paste_debug_inherit_fail(void);
bool paste_debug_read_pmem_fail(void);
#else
static inline bool paste_debug_inherit_fail(void)
{
	return false;
}

static inline bool paste_debug_read_pmem_fail(void)
{
	return false;
}
#endif

#endif /* _NET_PASTE_PASTE_H */
