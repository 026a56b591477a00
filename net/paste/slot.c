// SPDX-License-Identifier: GPL-2.0
/*
 * The life of a PASTE slot. Every change of state happens here, under the
 * region lock:
 *
 *   free     in @free: nobody holds it; reused once its page is idle
 *   claimed  in no map: taken for an attach's owned ranges, until the
 *            attach commits (pinned) or fails (free)
 *   rx       in @rx: posted to a bound ring, or an skb's page. Also a
 *            free slot whose page turned out busy (an skb or a pipe still
 *            holds it): it waits here until idle
 *   filled   in @rx and @filled: the bound device wrote a frame into it
 *   held     in no map: handed to a socket (its &paste_sock.owned), with
 *            one reference or, in a %PASTE_REGION_PACK region, several;
 *            it changes state with the last (net/paste/sock.c)
 *   pinned   in @pinned: made part of the region's persistent state
 *
 *   free    -> held      paste_slot_alloc()        (a copying receive)
 *   free    -> rx        paste_slot_post()         (to a bound ring)
 *   rx      -> filled    paste_slot_filled()       (the device wrote it)
 *   filled  -> held      paste_slot_take_rx()      (handed over in place)
 *   held    -> filled    paste_slot_return_rx()    (undo of the above)
 *   rx      -> free      reclaim, once the page is idle
 *   held    -> free      paste_slots_free()        (release, close)
 *   held    -> pinned    paste_slot_pin()
 *   pinned  -> free      paste_slot_unpin()
 *   free    -> claimed -> pinned | free            paste_slots_claim() ...
 *
 * fsdax pages have no free callback: a slot a device or an skb has seen
 * is only reused once its page is idle again (paste_slot_idle()).
 */
#include <linux/bitmap.h>
#include <linux/slab.h>

#include "paste.h"

/*
 * A page is idle when only the region's pin holds it: fsdax page counts are
 * 1-based (see mm/memremap.c) and pinning an order-0 page adds
 * GUP_PIN_COUNTING_BIAS. In a region a device is bound to, slots are pages,
 * and a slot is only reused once idle: no ring and no skb references it.
 */
#define PASTE_PAGE_IDLE_REF	(1 + GUP_PIN_COUNTING_BIAS)
/* rx slots checked for reclaim per allocation. */
#define PASTE_SCAN_BUDGET	8
/* Slots looked at per hold of the region lock by the long walks. */
#define PASTE_WALK_CHUNK	4096

static bool paste_slot_idle(const struct paste_region *r, u32 slot)
{
	return page_ref_count(r->pages[slot]) <= PASTE_PAGE_IDLE_REF;
}

/**
 * paste_slot_maps_alloc - allocate the slot maps of a new region
 * @r: the region, with @nr_slots set
 *
 * Up to 2^24 slots: the maps may be 2 MiB each, so not kmalloc'd.
 *
 * Return: 0 or -ENOMEM. Every slot starts free.
 */
int paste_slot_maps_alloc(struct paste_region *r)
{
	size_t words = BITS_TO_LONGS(r->nr_slots);

	r->free = kvcalloc(words, sizeof(long), GFP_KERNEL_ACCOUNT);
	r->pinned = kvcalloc(words, sizeof(long), GFP_KERNEL_ACCOUNT);
	r->rx = kvcalloc(words, sizeof(long), GFP_KERNEL_ACCOUNT);
	r->filled = kvcalloc(words, sizeof(long), GFP_KERNEL_ACCOUNT);
	if (!r->free || !r->pinned || !r->rx || !r->filled) {
		paste_slot_maps_free(r);
		return -ENOMEM;
	}
	bitmap_fill(r->free, r->nr_slots);
	r->nr_free = r->nr_slots;
	return 0;
}

/**
 * paste_slot_maps_free - free what paste_slot_maps_alloc() allocated
 * @r: the region
 */
void paste_slot_maps_free(struct paste_region *r)
{
	kvfree(r->free);
	kvfree(r->pinned);
	kvfree(r->rx);
	kvfree(r->filled);
}

/* rx slot @s becomes free if no ring, skb or pipe holds its page. */
static void paste_rx_slot_reclaim_locked(struct paste_region *r,
					 unsigned long s)
{
	if (!paste_slot_idle(r, s))
		return;
	__clear_bit(s, r->rx);
	__clear_bit(s, r->filled);
	r->nr_rx--;
	__set_bit(s, r->free);
	r->nr_free++;
}

/* Free up to @budget rx slots whose pages are idle. */
static void paste_reclaim_rx_locked(struct paste_region *r, u32 budget)
{
	unsigned long s = r->rx_hint;

	lockdep_assert_held(&r->lock);
	while (r->nr_rx && budget--) {
		s = find_next_bit(r->rx, r->nr_slots, s);
		if (s >= r->nr_slots)
			s = find_first_bit(r->rx, r->nr_slots);
		paste_rx_slot_reclaim_locked(r, s);
		s++;
	}
	r->rx_hint = s < r->nr_slots ? s : 0;
}

/*
 * Take a free slot. In a region a device is bound to, a free slot whose
 * page is still referenced moves to the rx map, to wait there for its
 * page to go idle, and the search goes on: such slots never make the
 * region look exhausted. At most PASTE_WALK_CHUNK of them move per call,
 * to bound the time spent with BHs off; the next call goes on from there.
 */
static u32 paste_take_free_locked(struct paste_region *r)
{
	unsigned long slot;
	u32 moved = 0;

	lockdep_assert_held(&r->lock);
	while (r->nr_free && moved < PASTE_WALK_CHUNK) {
		slot = find_next_bit(r->free, r->nr_slots, r->hint);
		if (slot >= r->nr_slots)
			slot = find_first_bit(r->free, r->nr_slots);
		r->hint = slot + 1;
		__clear_bit(slot, r->free);
		r->nr_free--;
		if (!r->zerocopy || paste_slot_idle(r, slot))
			return slot;
		__set_bit(slot, r->rx);
		r->nr_rx++;
		moved++;
	}
	return PASTE_NO_SLOT;
}

/**
 * paste_slot_alloc - take a free slot for the CPU to copy into
 * @r: the region
 *
 * Return: the slot, now held by the caller, or %PASTE_NO_SLOT.
 */
u32 paste_slot_alloc(struct paste_region *r)
{
	u32 slot;

	spin_lock_bh(&r->lock);
	if (r->zerocopy)
		paste_reclaim_rx_locked(r, PASTE_SCAN_BUDGET);
	slot = paste_take_free_locked(r);
	spin_unlock_bh(&r->lock);
	return slot;
}

/**
 * paste_slot_free - return a held slot to the free map
 * @r: the region
 * @slot: a slot held by a socket
 */
void paste_slot_free(struct paste_region *r, u32 slot)
{
	paste_slots_free(r, &slot, 1);
}

/**
 * paste_slots_free - return held slots to the free map
 * @r: the region
 * @slots: slots held by a socket
 * @n: number of entries at @slots
 */
void paste_slots_free(struct paste_region *r, const u32 *slots, unsigned int n)
{
	unsigned int i;

	if (!n)
		return;
	spin_lock_bh(&r->lock);
	for (i = 0; i < n; i++)
		__set_bit(slots[i], r->free);
	r->nr_free += n;
	spin_unlock_bh(&r->lock);
}

/**
 * paste_slot_pin - make a held slot part of the region's persistent state
 * @r: the region
 * @slot: a slot held by the caller's socket, which forgets it
 */
void paste_slot_pin(struct paste_region *r, u32 slot)
{
	spin_lock_bh(&r->lock);
	__set_bit(slot, r->pinned);
	r->nr_pinned++;
	spin_unlock_bh(&r->lock);
}

/**
 * paste_slot_pinned - is a slot pinned?
 * @r: the region
 * @slot: a slot of @r
 *
 * Return: true if pinned; may change as soon as the lock is dropped.
 */
bool paste_slot_pinned(struct paste_region *r, u32 slot)
{
	bool pinned;

	spin_lock_bh(&r->lock);
	pinned = test_bit(slot, r->pinned);
	spin_unlock_bh(&r->lock);
	return pinned;
}

/**
 * paste_slot_unpin - free a pinned slot
 * @r: the region
 * @slot: a slot of @r
 *
 * Return: 0, -EALREADY if the slot is free, or -ENOENT if it is held by
 * a socket or in use by a device.
 */
int paste_slot_unpin(struct paste_region *r, u32 slot)
{
	int err = 0;

	spin_lock_bh(&r->lock);
	if (__test_and_clear_bit(slot, r->pinned)) {
		r->nr_pinned--;
		__set_bit(slot, r->free);
		r->nr_free++;
	} else {
		err = test_bit(slot, r->free) ? -EALREADY : -ENOENT;
	}
	spin_unlock_bh(&r->lock);
	return err;
}

/**
 * paste_slot_post - take a free slot for a device to receive into
 * @r: a region with page-sized slots that a device is bound to
 * @reserve: free slots to leave for copying receives
 *
 * The slot's page gets a reference for the ring, taken under the region
 * lock so that it never looks idle while in the rx map.
 *
 * Return: the slot, or %PASTE_NO_SLOT.
 */
u32 paste_slot_post(struct paste_region *r, u32 reserve)
{
	u32 slot = PASTE_NO_SLOT;

	spin_lock_bh(&r->lock);
	paste_reclaim_rx_locked(r, PASTE_SCAN_BUDGET);
	if (r->nr_free > reserve)
		slot = paste_take_free_locked(r);
	if (slot != PASTE_NO_SLOT) {
		__set_bit(slot, r->rx);
		r->nr_rx++;
		get_page(r->pages[slot]);
	}
	spin_unlock_bh(&r->lock);
	return slot;
}

/* The slot of region page @page, or PASTE_NO_SLOT; O(1). */
static u32 paste_page_slot(const struct paste_region *r,
			   const struct page *page)
{
	unsigned long idx;

	if (!is_zone_device_page(page))
		return PASTE_NO_SLOT;
	idx = page->index - (r->offset >> PAGE_SHIFT);
	if (idx >= r->nr_pages || r->pages[idx] != page)
		return PASTE_NO_SLOT;
	return idx;
}

/**
 * paste_slot_filled - note that a bound device wrote into a posted slot
 * @r: the region
 * @page: the page the driver posted
 *
 * Only a filled slot can be handed over in place: a posted one would be
 * overwritten by the device.
 */
void paste_slot_filled(struct paste_region *r, const struct page *page)
{
	u32 slot = paste_page_slot(r, page);

	if (WARN_ON_ONCE(slot == PASTE_NO_SLOT))
		return;
	spin_lock_bh(&r->lock);
	if (!WARN_ON_ONCE(!test_bit(slot, r->rx)))
		__set_bit(slot, r->filled);
	spin_unlock_bh(&r->lock);
}

/**
 * paste_slot_take_rx - hand a device-filled slot to a socket
 * @r: the socket's region
 * @page: a page an skb fragment points to
 * @slot: set to the slot of @page
 *
 * The page must be the region's page at its file index, and a bound
 * device must have filled it: not merely posted it, nor a free page that
 * a pipe or a foreign skb holds. The caller's skb still references @page.
 *
 * Return: true if @page was such a slot; it now belongs to the caller.
 */
bool paste_slot_take_rx(struct paste_region *r, const struct page *page,
			u32 *slot)
{
	bool taken = false;

	if (!READ_ONCE(r->zerocopy))
		return false;
	*slot = paste_page_slot(r, page);
	if (*slot == PASTE_NO_SLOT)
		return false;

	spin_lock_bh(&r->lock);
	if (test_bit(*slot, r->filled)) {
		__clear_bit(*slot, r->filled);
		__clear_bit(*slot, r->rx);
		r->nr_rx--;
		taken = true;
	}
	spin_unlock_bh(&r->lock);
	return taken;
}

/**
 * paste_slot_return_rx - undo paste_slot_take_rx()
 * @r: the region
 * @slot: the slot taken
 */
void paste_slot_return_rx(struct paste_region *r, u32 slot)
{
	spin_lock_bh(&r->lock);
	__set_bit(slot, r->rx);
	__set_bit(slot, r->filled);
	r->nr_rx++;
	spin_unlock_bh(&r->lock);
}

/*
 * Free every rx slot whose page is idle; true if some remain while no
 * queue is bound. Process context: the walk drops the lock, with BHs,
 * between chunks.
 */
static bool paste_region_reclaim_rx(struct paste_region *r)
{
	unsigned long s, start, end;
	bool left;

	for (start = 0; start < r->nr_slots; start = end) {
		end = min_t(unsigned long, start + PASTE_WALK_CHUNK,
			    r->nr_slots);
		spin_lock_bh(&r->lock);
		for (s = find_next_bit(r->rx, end, start); s < end;
		     s = find_next_bit(r->rx, end, s + 1))
			paste_rx_slot_reclaim_locked(r, s);
		spin_unlock_bh(&r->lock);
		cond_resched();
	}
	spin_lock_bh(&r->lock);
	left = r->nr_rx && !r->nr_bound;
	spin_unlock_bh(&r->lock);
	return left;
}

/*
 * With no queue bound, nothing hands out slots to reclaim on the way:
 * poll for the skbs that still hold rx slots (queued on sockets, say) to
 * go away.
 */
static void paste_region_reclaim_work(struct work_struct *work)
{
	struct paste_region *r = container_of(to_delayed_work(work),
					      struct paste_region,
					      reclaim_work);

	if (paste_region_reclaim_rx(r))
		schedule_delayed_work(&r->reclaim_work, HZ / 10);
}

/**
 * paste_slot_reclaim_init - set up the polling reclaim of a new region
 * @r: the region
 */
void paste_slot_reclaim_init(struct paste_region *r)
{
	INIT_DELAYED_WORK(&r->reclaim_work, paste_region_reclaim_work);
}

/**
 * paste_slots_idle - may a region's pages be given back to the file?
 * @r: a region nobody holds any more
 *
 * A device bound to the region wrote every frame of its queue into the
 * region's pages, whatever socket it was for: skbs of other sockets may
 * still reference them. Process context.
 *
 * Return: true when no device was ever bound, or no page of the region is
 * referenced beyond the region's pin.
 */
bool paste_slots_idle(struct paste_region *r)
{
	u32 s;

	if (!r->zerocopy)
		return true;
	for (s = 0; s < r->nr_slots; s++) {
		if (!paste_slot_idle(r, s))
			return false;
		if (!((s + 1) % PASTE_WALK_CHUNK))
			cond_resched();
	}
	return true;
}

/**
 * paste_region_bind_rx - note a receive queue bound to the region
 * @r: the region
 */
void paste_region_bind_rx(struct paste_region *r)
{
	spin_lock_bh(&r->lock);
	r->zerocopy = true;
	r->nr_bound++;
	spin_unlock_bh(&r->lock);
}

/**
 * paste_region_unbind_rx - note that a queue's ring holds no slot any more
 * @r: the region
 *
 * Frees the rx slots that no skb holds, and keeps doing so for the others
 * while no queue is bound.
 */
void paste_region_unbind_rx(struct paste_region *r)
{
	spin_lock_bh(&r->lock);
	r->nr_bound--;
	spin_unlock_bh(&r->lock);
	if (paste_region_reclaim_rx(r))
		schedule_delayed_work(&r->reclaim_work, HZ / 10);
}

/* Word @w of the range of slots [@first, @last] as a mask. */
static unsigned long paste_range_mask(u64 w, u64 first, u64 last)
{
	unsigned long mask = ~0UL;

	if (w == first / BITS_PER_LONG)
		mask &= BITMAP_FIRST_WORD_MASK(first);
	if (w == last / BITS_PER_LONG)
		mask &= BITMAP_LAST_WORD_MASK(last + 1);
	return mask;
}

/* The first and last slot that @p touches. */
static void paste_range_slots(const struct paste_region *r,
			      const struct paste_range *p, u64 *first, u64 *last)
{
	*first = (p->offset - r->offset) >> r->slot_shift;
	*last = (p->offset + p->length - 1 - r->offset) >> r->slot_shift;
}

/**
 * paste_slots_claim - take the slots of an attach's owned ranges
 * @r: the region
 * @ranges: the ranges, checked against @r
 * @nr: number of @ranges
 * @claimed: a zeroed map of @r's slots; receives the free slots taken
 *
 * All or nothing: every slot the ranges touch must be free or pinned.
 * Free ones become claimed: no socket can take, pin or release them until
 * paste_slots_claim_end() makes them pinned, or free again. A word of the
 * maps at a time: the ranges may cover 2^24 slots, walked with BHs off.
 *
 * Return: 0, or -EBUSY if a slot is held, in use by a device, or claimed
 * by another attach.
 */
int paste_slots_claim(struct paste_region *r, const struct paste_range *ranges,
		      u32 nr, unsigned long *claimed)
{
	u64 first, last, w;
	unsigned long m, c;
	u32 i;

	spin_lock_bh(&r->lock);
	for (i = 0; i < nr; i++) {
		paste_range_slots(r, &ranges[i], &first, &last);
		for (w = first / BITS_PER_LONG; w <= last / BITS_PER_LONG; w++) {
			m = paste_range_mask(w, first, last);
			if (((r->free[w] | r->pinned[w]) & m) != m) {
				spin_unlock_bh(&r->lock);
				return -EBUSY;
			}
		}
	}
	for (i = 0; i < nr; i++) {
		paste_range_slots(r, &ranges[i], &first, &last);
		for (w = first / BITS_PER_LONG; w <= last / BITS_PER_LONG; w++) {
			c = r->free[w] & paste_range_mask(w, first, last);
			r->free[w] &= ~c;
			r->nr_free -= hweight_long(c);
			claimed[w] |= c;
		}
	}
	spin_unlock_bh(&r->lock);
	return 0;
}

/**
 * paste_slots_claim_end - end a claim
 * @r: the region
 * @claimed: the map paste_slots_claim() filled
 * @commit: pin the claimed slots; otherwise free them again
 */
void paste_slots_claim_end(struct paste_region *r, const unsigned long *claimed,
			   bool commit)
{
	unsigned long *dst = commit ? r->pinned : r->free;
	u32 *count = commit ? &r->nr_pinned : &r->nr_free;
	size_t w, words = BITS_TO_LONGS(r->nr_slots);

	spin_lock_bh(&r->lock);
	for (w = 0; w < words; w++) {
		dst[w] |= claimed[w];
		*count += hweight_long(claimed[w]);
	}
	spin_unlock_bh(&r->lock);
}
