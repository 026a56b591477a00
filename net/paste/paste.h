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
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/paste.h>

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
 * @lock: protects the slot maps and counts below
 * @free: bitmap of free slots
 * @pinned: bitmap of pinned slots
 * @rx: bitmap of slots posted to a bound device or filled by it and held
 *	by an skb; a slot in none of the three maps is held by a socket
 * @nr_free: number of bits set in @free
 * @nr_pinned: number of bits set in @pinned
 * @nr_rx: number of bits set in @rx
 * @hint: where the next search for a free slot starts
 * @rx_hint: where the next search for a reclaimable @rx slot starts
 * @zerocopy: a device has been bound to the region: a free slot may still
 *	be referenced by an skb, and is only reused once its page is idle
 * @nr_bound: receive queues bound to the region now
 * @reclaim_work: with no queue bound, frees @rx slots whose skbs go away
 * @free_work: tears the region down in process context
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

	spinlock_t lock;	/* protects the slot maps and counts */
	unsigned long *free;
	unsigned long *pinned;
	unsigned long *rx;
	u32 nr_free;
	u32 nr_pinned;
	u32 nr_rx;
	u32 hint;
	u32 rx_hint;
	bool zerocopy;
	u32 nr_bound;
	struct delayed_work reclaim_work;

	struct work_struct free_work;
	struct rcu_head rcu;
};

/**
 * struct paste_stats - global counters, shown in /proc/net/paste
 * @bytes_placed: bytes placed into regions
 * @bytes_copied: of those, bytes copied by the CPU
 * @bytes_zerocopy: of those, bytes a device placed, handed over in place
 * @refs_outstanding: buffers held by sockets
 * @region_full: times a socket found its region exhausted
 * @flushes: ranges written back through PASTE_IOC_FLUSH
 * @rx_posted: region buffers posted to bound devices
 * @rx_filled: of those, buffers a device filled
 * @rx_bytes: bytes devices wrote into region buffers, headers included
 * @rx_fallback: ordinary pages a bound device got instead of a region
 *	buffer, because the region was below its reserve of free buffers
 * @copy_foreign: bytes copied because they were not in a device-filled
 *	buffer of the socket's region (loopback, another device, a fallback
 *	page, a coalesced or collapsed skb)
 * @copy_split: bytes copied because a filled buffer held more than the
 *	receive could take
 */
struct paste_stats {
	atomic64_t bytes_placed;
	atomic64_t bytes_copied;
	atomic64_t bytes_zerocopy;
	atomic64_t refs_outstanding;
	atomic64_t region_full;
	atomic64_t flushes;
	atomic64_t rx_posted;
	atomic64_t rx_filled;
	atomic64_t rx_bytes;
	atomic64_t rx_fallback;
	atomic64_t copy_foreign;
	atomic64_t copy_split;
};

extern struct paste_stats paste_stats;

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
					 unsigned long **claimed);
void paste_region_unclaim(struct paste_region *r, const unsigned long *claimed);
void paste_region_put(struct paste_region *r);
struct paste_region *paste_region_get_rcu(struct paste_region *r);

u32 paste_slot_alloc(struct paste_region *r);
void paste_slot_free(struct paste_region *r, u32 slot);
u32 paste_slot_post(struct paste_region *r, u32 reserve);
bool paste_slot_take_rx(struct paste_region *r, const struct page *page,
			u32 *slot);
void paste_slot_return_rx(struct paste_region *r, u32 slot);
void paste_region_bind_rx(struct paste_region *r);
void paste_region_unbind_rx(struct paste_region *r);

void paste_rxq_sock_destroy(struct sock *sk);
int paste_rxq_bind_ioctl(struct sock *sk, void __user *arg);

int paste_proc_show_regions(struct seq_file *seq);

#endif /* _NET_PASTE_PASTE_H */
