// SPDX-License-Identifier: GPL-2.0
/*
 * PASTE regions: a page-aligned range of a DAX (or, for tests, shmem) file
 * divided into fixed-size slots. Each slot is one packet buffer; its index is
 * the token user space uses to pin and release it. A region is shared by all
 * sockets that attach the same file range, and by the children of a
 * listening socket.
 *
 * The pages are pinned once, from the creator's MAP_SHARED mapping, so that
 * placing received bytes needs no lookup. The file's layout lock keeps those
 * pages in the file until the last socket is gone.
 */
#include <linux/bitmap.h>
#include <linux/capability.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/layout_lock.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/seq_file.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "paste.h"

static LIST_HEAD(paste_regions);
static DEFINE_MUTEX(paste_regions_mutex);

#ifdef CONFIG_PASTE_DEBUG
/*
 * Selftests widen the window between finding a shared region and taking a
 * reference to it, where the last socket of that region may go away.
 */
static u32 paste_attach_delay_ms;
/* And fail the next so many inheritances by accepted sockets. */
static atomic_t paste_inherit_fail;

static int __init paste_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("paste", NULL);

	debugfs_create_u32("attach_delay_ms", 0600, dir, &paste_attach_delay_ms);
	debugfs_create_atomic_t("inherit_fail", 0600, dir, &paste_inherit_fail);
	return 0;
}
late_initcall(paste_debugfs_init);

/**
 * paste_debug_inherit_fail - should this inheritance fail, for a selftest?
 *
 * Return: true while the debugfs count inherit_fail, decremented here, was
 * positive.
 */
bool paste_debug_inherit_fail(void)
{
	return atomic_add_unless(&paste_inherit_fail, -1, 0);
}

static void paste_debug_attach_window(void)
{
	u32 ms = READ_ONCE(paste_attach_delay_ms);

	if (ms)
		msleep(ms);
}
#else
static inline void paste_debug_attach_window(void) {}
#endif

/*
 * Pinned pages count against the creator's RLIMIT_MEMLOCK, in the user's
 * locked_vm as io_uring and AF_XDP do, and show in the mm's pinned_vm
 * (VmPin). CAP_IPC_LOCK lifts the limit but not the mm accounting.
 */
static int paste_account_pages(struct paste_region *r)
{
	unsigned long limit, old, new;

	if (!capable(CAP_IPC_LOCK)) {
		r->user = get_uid(current_user());
		limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
		old = atomic_long_read(&r->user->locked_vm);
		do {
			new = old + r->nr_pages;
			if (new > limit || new < old) {
				free_uid(r->user);
				r->user = NULL;
				return -ENOMEM;
			}
		} while (!atomic_long_try_cmpxchg(&r->user->locked_vm, &old,
						  new));
	}
	r->mm = current->mm;
	mmgrab(r->mm);
	atomic64_add(r->nr_pages, &r->mm->pinned_vm);
	return 0;
}

static void paste_unaccount_pages(struct paste_region *r)
{
	if (r->user) {
		atomic_long_sub(r->nr_pages, &r->user->locked_vm);
		free_uid(r->user);
	}
	atomic64_sub(r->nr_pages, &r->mm->pinned_vm);
	mmdrop(r->mm);
}

/*
 * A page is idle when only the region's pin holds it: fsdax page counts are
 * 1-based (see mm/memremap.c) and pinning an order-0 page adds
 * GUP_PIN_COUNTING_BIAS. In a region a device is bound to, slots are pages,
 * and a slot is only reused once idle: no ring and no skb references it.
 */
#define PASTE_PAGE_IDLE_REF	(1 + GUP_PIN_COUNTING_BIAS)
/* Busy free slots skipped, and rx slots checked, per allocation. */
#define PASTE_SCAN_BUDGET	8

static bool paste_slot_idle(const struct paste_region *r, u32 slot)
{
	return page_ref_count(r->pages[slot]) <= PASTE_PAGE_IDLE_REF;
}

/* Free filled slot @s if no ring or skb holds its page any more. */
static void paste_rx_slot_reclaim_locked(struct paste_region *r,
					 unsigned long s)
{
	if (!paste_slot_idle(r, s))
		return;
	__clear_bit(s, r->rx);
	r->nr_rx--;
	__set_bit(s, r->free);
	r->nr_free++;
}

/* Free up to @budget of the slots a device filled whose skbs are gone. */
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

static u32 paste_take_free_locked(struct paste_region *r)
{
	unsigned long slot;
	u32 tries;

	lockdep_assert_held(&r->lock);
	for (tries = 0; tries < PASTE_SCAN_BUDGET; tries++) {
		slot = find_next_bit(r->free, r->nr_slots, r->hint);
		if (slot >= r->nr_slots)
			slot = find_first_bit(r->free, r->nr_slots);
		if (slot >= r->nr_slots)
			break;
		r->hint = slot + 1;
		if (!r->zerocopy || paste_slot_idle(r, slot)) {
			__clear_bit(slot, r->free);
			r->nr_free--;
			return slot;
		}
	}
	return PASTE_NO_SLOT;
}

/**
 * paste_slot_alloc - take a free slot for the CPU to copy into
 * @r: the region
 *
 * Return: the slot, or %PASTE_NO_SLOT.
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
 * paste_slot_free - return a slot to the free map
 * @r: the region
 * @slot: a slot held by a socket
 */
void paste_slot_free(struct paste_region *r, u32 slot)
{
	paste_slots_free(r, &slot, 1);
}

/**
 * paste_slots_free - return slots to the free map
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

/**
 * paste_slot_take_rx - hand a device-filled slot to a socket
 * @r: the socket's region
 * @page: a page an skb fragment points to
 * @slot: set to the slot of @page
 *
 * O(1): the page must be the region's page at its file index, and in the
 * rx map. The caller's skb still references @page.
 *
 * Return: true if @page was such a slot; it now belongs to the caller.
 */
bool paste_slot_take_rx(struct paste_region *r, const struct page *page,
			u32 *slot)
{
	unsigned long idx;
	bool taken;

	if (!READ_ONCE(r->zerocopy) || !is_zone_device_page(page))
		return false;
	idx = page->index - (r->offset >> PAGE_SHIFT);
	if (idx >= r->nr_pages || r->pages[idx] != page)
		return false;

	spin_lock_bh(&r->lock);
	taken = __test_and_clear_bit(idx, r->rx);
	if (taken)
		r->nr_rx--;
	spin_unlock_bh(&r->lock);
	*slot = idx;
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
	r->nr_rx++;
	spin_unlock_bh(&r->lock);
}

/* Slots of the rx map checked per hold of the region lock. */
#define PASTE_RECLAIM_CHUNK	4096

/*
 * Free every filled slot no skb holds any more; true if some remain.
 * Process context: the walk drops the lock, with BHs, between chunks.
 */
static bool paste_region_reclaim_rx(struct paste_region *r)
{
	unsigned long s, start, end;
	bool left;

	for (start = 0; start < r->nr_slots; start = end) {
		end = min_t(unsigned long, start + PASTE_RECLAIM_CHUNK,
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
 * poll for the skbs that still hold filled slots (queued on sockets,
 * say) to go away.
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
 * Frees the filled slots that no skb holds, and keeps doing so for the
 * others while no queue is bound.
 */
void paste_region_unbind_rx(struct paste_region *r)
{
	spin_lock_bh(&r->lock);
	r->nr_bound--;
	spin_unlock_bh(&r->lock);
	if (paste_region_reclaim_rx(r))
		schedule_delayed_work(&r->reclaim_work, HZ / 10);
}

/* Pages unpinned between scheduling points at teardown. */
#define PASTE_UNPIN_CHUNK	4096

/* Tear down a region nobody can find any more, in process context. */
static void paste_region_destroy(struct paste_region *r)
{
	unsigned long i, n;

	cancel_delayed_work_sync(&r->reclaim_work);
	for (i = 0; i < r->nr_pages; i += n) {
		n = min_t(unsigned long, r->nr_pages - i, PASTE_UNPIN_CHUNK);
		unpin_user_pages_dirty_lock(r->pages + i, n, !r->dax);
		cond_resched();
	}
	paste_unaccount_pages(r);
	inode_layout_unlock(file_inode(r->file));
	fput(r->file);
	kvfree(r->pages);
	bitmap_free(r->free);
	bitmap_free(r->pinned);
	bitmap_free(r->rx);
	kfree_rcu(r, rcu);
}

static void paste_region_free_work(struct work_struct *work)
{
	struct paste_region *r = container_of(work, struct paste_region,
					      free_work);

	mutex_lock(&paste_regions_mutex);
	list_del(&r->node);
	mutex_unlock(&paste_regions_mutex);
	paste_region_destroy(r);
}

/**
 * paste_region_put - drop a reference to a region
 * @r: the region
 *
 * May be called from any context; the last reference tears the region down
 * from a work item.
 */
void paste_region_put(struct paste_region *r)
{
	if (refcount_dec_and_test(&r->refcnt))
		schedule_work(&r->free_work);
}

/**
 * paste_region_get_rcu - take a reference to a region found under RCU
 * @r: the region, or NULL
 *
 * Return: @r, or NULL when @r is NULL or already being torn down.
 */
struct paste_region *paste_region_get_rcu(struct paste_region *r)
{
	if (r && refcount_inc_not_zero(&r->refcnt))
		return r;
	return NULL;
}

static int paste_range_cmp(const void *a, const void *b)
{
	const struct paste_range *x = a, *y = b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return 0;
}

/*
 * Copy the ranges the application owns from user space, sorted, and check
 * them against the requested region before any region is touched.
 */
static struct paste_range *paste_owned_load(const struct paste_region_req *req)
{
	struct paste_range *ranges;
	int err = 0;
	u32 i;

	ranges = kvmalloc_array(req->nr_owned, sizeof(*ranges),
				GFP_KERNEL_ACCOUNT);
	if (!ranges)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(ranges, u64_to_user_ptr(req->owned),
			   array_size(req->nr_owned, sizeof(*ranges)))) {
		err = -EFAULT;
		goto out;
	}

	sort(ranges, req->nr_owned, sizeof(*ranges), paste_range_cmp, NULL);
	for (i = 0; i < req->nr_owned; i++) {
		const struct paste_range *p = &ranges[i];

		if (!p->length || p->offset < req->offset ||
		    p->length > req->length ||
		    p->offset - req->offset > req->length - p->length) {
			err = -ERANGE;
			goto out;
		}
		if (i && p->offset < ranges[i - 1].offset + ranges[i - 1].length) {
			err = -EINVAL;
			goto out;
		}
	}
out:
	if (err) {
		kvfree(ranges);
		return ERR_PTR(err);
	}
	return ranges;
}

/* The first and last slot that @p touches. */
static void paste_range_slots(const struct paste_region *r,
			      const struct paste_range *p, u64 *first, u64 *last)
{
	*first = (p->offset - r->offset) >> r->slot_shift;
	*last = (p->offset + p->length - 1 - r->offset) >> r->slot_shift;
}

/*
 * Pin the slots the ranges touch, all or nothing: a slot held by a socket
 * cannot be claimed. Slots that go from free to pinned are marked in
 * @claimed, so that a failed attach can give them back.
 */
static int paste_region_claim(struct paste_region *r,
			      const struct paste_range *ranges, u32 nr,
			      unsigned long *claimed)
{
	u64 first, last, s;
	u32 i;

	spin_lock_bh(&r->lock);
	for (i = 0; i < nr; i++) {
		paste_range_slots(r, &ranges[i], &first, &last);
		for (s = first; s <= last; s++) {
			if (!test_bit(s, r->free) && !test_bit(s, r->pinned)) {
				spin_unlock_bh(&r->lock);
				return -EBUSY;
			}
		}
	}
	for (i = 0; i < nr; i++) {
		paste_range_slots(r, &ranges[i], &first, &last);
		for (s = first; s <= last; s++) {
			if (__test_and_clear_bit(s, r->free)) {
				r->nr_free--;
				__set_bit(s, r->pinned);
				r->nr_pinned++;
				__set_bit(s, claimed);
			}
		}
	}
	spin_unlock_bh(&r->lock);
	return 0;
}

/**
 * paste_region_unclaim - undo the owned ranges of an attach that failed
 * @r: the region
 * @claimed: the slots paste_region_attach() pinned, or NULL
 *
 * A claimed slot that is still pinned becomes free again.
 */
void paste_region_unclaim(struct paste_region *r, const unsigned long *claimed)
{
	unsigned long s;

	if (!claimed)
		return;
	spin_lock_bh(&r->lock);
	for_each_set_bit(s, claimed, r->nr_slots) {
		if (__test_and_clear_bit(s, r->pinned)) {
			r->nr_pinned--;
			__set_bit(s, r->free);
			r->nr_free++;
		}
	}
	spin_unlock_bh(&r->lock);
}

/* The caller's mapping must be a shared, writable mapping of the range. */
static int paste_check_mapping(struct mm_struct *mm,
			       const struct paste_region_req *req,
			       const struct inode *inode, bool dax)
{
	unsigned long addr = req->addr, end = req->addr + req->length;

	while (addr < end) {
		struct vm_area_struct *vma = vma_lookup(mm, addr);
		pgoff_t pgoff;

		if (!vma || !vma->vm_file || file_inode(vma->vm_file) != inode ||
		    !(vma->vm_flags & VM_SHARED))
			return -EINVAL;
		if (!(vma->vm_flags & VM_WRITE))
			return -EACCES;
		/* Only MAP_SYNC makes CPU cache flushes sufficient on DAX. */
		if (dax && !(vma->vm_flags & VM_SYNC))
			return -EINVAL;
		pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
		if (pgoff != (req->offset + (addr - req->addr)) >> PAGE_SHIFT)
			return -EINVAL;
		addr = min(end, vma->vm_end);
	}
	return 0;
}

static int paste_region_pin(struct paste_region *r,
			    const struct paste_region_req *req)
{
	struct mm_struct *mm = current->mm;
	unsigned long done = 0;
	long n;
	int err;

	r->pages = kvmalloc_array(r->nr_pages, sizeof(*r->pages),
				  GFP_KERNEL_ACCOUNT);
	if (!r->pages)
		return -ENOMEM;

	mmap_read_lock(mm);
	err = paste_check_mapping(mm, req, file_inode(r->file), r->dax);
	while (!err && done < r->nr_pages) {
		n = pin_user_pages(req->addr + done * PAGE_SIZE,
				   r->nr_pages - done, FOLL_WRITE,
				   r->pages + done);
		if (n <= 0)
			err = n ? n : -EFAULT;
		else
			done += n;
	}
	mmap_read_unlock(mm);

	if (err) {
		unpin_user_pages(r->pages, done);
		kvfree(r->pages);
		r->pages = NULL;
	}
	return err;
}

static int paste_req_check(const struct paste_region_req *req)
{
	u32 slot = req->slot_size ? req->slot_size : PAGE_SIZE;

	if (req->flags & ~PASTE_REGION_FLAGS ||
	    req->reserved[0] || req->reserved[1] || req->reserved[2])
		return -EINVAL;
	/* Volatile buffers cannot be made durable. */
	if ((req->flags & PASTE_REGION_FLAGS) == PASTE_REGION_FLAGS)
		return -EINVAL;
	/* Without the pmem API there is no way to make stores durable. */
	if (!IS_ENABLED(CONFIG_ARCH_HAS_PMEM_API) &&
	    (req->flags & PASTE_REGION_DURABLE))
		return -EOPNOTSUPP;
	if (!req->length || !PAGE_ALIGNED(req->offset) ||
	    !PAGE_ALIGNED(req->length) || !PAGE_ALIGNED(req->addr) ||
	    req->offset + req->length < req->offset ||
	    req->addr + req->length < req->addr)
		return -EINVAL;
	if (!is_power_of_2(slot) || slot < PASTE_SLOT_MIN || slot > PAGE_SIZE)
		return -EINVAL;
	if (req->length / slot > PASTE_MAX_SLOTS)
		return -EINVAL;
	if (req->nr_owned > PASTE_MAX_OWNED)
		return -EINVAL;
	return 0;
}

/*
 * Find the live region of @inode overlapping [offset, offset + length) and
 * take a reference to it. A region whose last reference is gone stays on
 * the list until its teardown work runs; it is skipped.
 */
static struct paste_region *paste_region_find_get(const struct inode *inode,
						  u64 offset, u64 length)
{
	struct paste_region *r;

	lockdep_assert_held(&paste_regions_mutex);
	list_for_each_entry(r, &paste_regions, node) {
		if (file_inode(r->file) != inode ||
		    offset >= r->offset + r->length || r->offset >= offset + length)
			continue;
		paste_debug_attach_window();
		if (refcount_inc_not_zero(&r->refcnt))
			return r;
	}
	return NULL;
}

static struct paste_region *paste_region_create(struct file *file,
						const struct paste_region_req *req,
						bool dax)
{
	u32 slot = req->slot_size ? req->slot_size : PAGE_SIZE;
	struct paste_region *r;
	int err = -ENOMEM;

	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return ERR_PTR(-ENOMEM);

	INIT_LIST_HEAD(&r->node);
	refcount_set(&r->refcnt, 1);
	spin_lock_init(&r->lock);
	INIT_WORK(&r->free_work, paste_region_free_work);
	INIT_DELAYED_WORK(&r->reclaim_work, paste_region_reclaim_work);
	r->file = file;
	r->offset = req->offset;
	r->length = req->length;
	r->flags = req->flags;
	r->dax = dax;
	r->slot_shift = ilog2(slot);
	r->nr_slots = req->length >> r->slot_shift;
	r->nr_pages = req->length >> PAGE_SHIFT;
	r->nr_free = r->nr_slots;
	r->free = bitmap_zalloc(r->nr_slots, GFP_KERNEL_ACCOUNT);
	r->pinned = bitmap_zalloc(r->nr_slots, GFP_KERNEL_ACCOUNT);
	r->rx = bitmap_zalloc(r->nr_slots, GFP_KERNEL_ACCOUNT);
	if (!r->free || !r->pinned || !r->rx)
		goto err_free;
	bitmap_fill(r->free, r->nr_slots);

	err = inode_layout_lock(file_inode(file));
	if (err)
		goto err_free;

	err = paste_account_pages(r);
	if (err)
		goto err_unlock;

	err = paste_region_pin(r, req);
	if (err)
		goto err_unaccount;

	return r;

err_unaccount:
	paste_unaccount_pages(r);
err_unlock:
	inode_layout_unlock(file_inode(file));
err_free:
	bitmap_free(r->free);
	bitmap_free(r->pinned);
	bitmap_free(r->rx);
	kfree(r);
	return ERR_PTR(err);
}

/* An existing region @r may serve @req if it is the same range alike. */
static int paste_region_share_ok(const struct paste_region *r,
				 const struct paste_region_req *req)
{
	if (r->offset != req->offset || r->length != req->length)
		return -EBUSY;
	if (r->flags != req->flags ||
	    (req->slot_size && req->slot_size != paste_slot_size(r)) ||
	    (!req->slot_size && paste_slot_size(r) != PAGE_SIZE))
		return -EINVAL;
	return 0;
}

/**
 * paste_region_attach - find or create the region a request names
 * @req: the request from setsockopt(SO_PASTE_REGION), not yet checked
 * @net: the network namespace of the attaching socket
 * @claimed: set to the slots this call pinned for @req's owned ranges (a
 *	bitmap the caller frees), or to NULL when there are none
 *
 * A request for the same file range as an existing region shares it, and
 * must ask for the same slot size and flags, whatever namespace created it.
 * A new region is created, and its pages pinned, without the global lock:
 * if another attach published the same range meanwhile, that one is shared
 * and the new one torn down. The ranges the request says the application
 * owns are pinned before the region is returned, and for a new region
 * before other sockets can find it.
 *
 * Return: the region with a reference for the caller, or an ERR_PTR().
 */
struct paste_region *paste_region_attach(const struct paste_region_req *req,
					 const struct net *net,
					 unsigned long **claimed)
{
	struct paste_region *fresh = NULL, *discard = NULL;
	struct paste_range *owned = NULL;
	struct paste_region *r;
	unsigned long *bits = NULL;
	struct inode *inode;
	struct file *file;
	bool dax, created = false;
	int err;

	*claimed = NULL;
	err = paste_req_check(req);
	if (err)
		return ERR_PTR(err);

	file = fget(req->fd);
	if (!file)
		return ERR_PTR(-EBADF);
	inode = file_inode(file);

	err = -EBADF;
	if (!S_ISREG(inode->i_mode))
		goto err_fput;
	err = -EACCES;
	if ((file->f_mode & (FMODE_READ | FMODE_WRITE)) !=
	    (FMODE_READ | FMODE_WRITE))
		goto err_fput;
	dax = IS_DAX(inode);
	err = -EINVAL;
	if (dax && (req->flags & PASTE_REGION_VOLATILE))
		goto err_fput;
	err = -EOPNOTSUPP;
	if (!dax && !(shmem_file(file) &&
		      (req->flags & PASTE_REGION_VOLATILE)))
		goto err_fput;
	err = -EINVAL;
	if (req->offset + req->length > i_size_read(inode))
		goto err_fput;

	if (req->nr_owned) {
		owned = paste_owned_load(req);
		if (IS_ERR(owned)) {
			err = PTR_ERR(owned);
			goto err_fput;
		}
	}

again:
	mutex_lock(&paste_regions_mutex);
	r = paste_region_find_get(inode, req->offset, req->length);
	if (r) {
		discard = fresh;
		fresh = NULL;
		if (file) {
			fput(file);
			file = NULL;
		}
		err = paste_region_share_ok(r, req);
		if (err)
			goto err_put;
	} else if (fresh) {
		r = fresh;
		created = true;
	} else {
		mutex_unlock(&paste_regions_mutex);
		fresh = paste_region_create(file, req, dax);
		if (IS_ERR(fresh)) {
			err = PTR_ERR(fresh);
			goto err_free;
		}
		fresh->net_cookie = net->net_cookie;
		file = NULL;
		goto again;
	}

	if (owned) {
		err = -ENOMEM;
		bits = bitmap_zalloc(r->nr_slots, GFP_KERNEL_ACCOUNT);
		if (!bits)
			goto err_put;
		err = paste_region_claim(r, owned, req->nr_owned, bits);
		if (err)
			goto err_put;
	}
	if (created)
		list_add(&r->node, &paste_regions);
	mutex_unlock(&paste_regions_mutex);
	if (discard)
		paste_region_destroy(discard);

	kvfree(owned);
	*claimed = bits;
	return r;

err_put:
	if (created)
		discard = r;
	else
		paste_region_put(r);
	mutex_unlock(&paste_regions_mutex);
	if (discard)
		paste_region_destroy(discard);
	bitmap_free(bits);
err_free:
	kvfree(owned);
err_fput:
	if (file)
		fput(file);
	return ERR_PTR(err);
}

/**
 * paste_proc_show_regions - list the live regions a namespace created
 * @seq: the seq_file of /proc/net/paste
 * @net: its network namespace
 *
 * Return: 0.
 */
int paste_proc_show_regions(struct seq_file *seq, const struct net *net)
{
	struct paste_region *r;

	seq_puts(seq, "dev\tino\toffset\tlength\tslot\tslots\tfree\tpinned\trx\trefs\tflags\n");
	mutex_lock(&paste_regions_mutex);
	list_for_each_entry(r, &paste_regions, node) {
		struct inode *inode = file_inode(r->file);
		u32 nr_free, nr_pinned, nr_rx;

		if (r->net_cookie != net->net_cookie)
			continue;

		spin_lock_bh(&r->lock);
		nr_free = r->nr_free;
		nr_pinned = r->nr_pinned;
		nr_rx = r->nr_rx;
		spin_unlock_bh(&r->lock);
		seq_printf(seq, "%u:%u\t%lu\t%llu\t%llu\t%u\t%u\t%u\t%u\t%u\t%u\t%s%s%s\n",
			   MAJOR(inode->i_sb->s_dev), MINOR(inode->i_sb->s_dev),
			   inode->i_ino, r->offset, r->length,
			   paste_slot_size(r), r->nr_slots, nr_free, nr_pinned,
			   nr_rx, refcount_read(&r->refcnt),
			   r->dax ? "dax" : "volatile",
			   r->flags & PASTE_REGION_DURABLE ? ",durable" : "",
			   r->zerocopy ? ",zerocopy" : "");
	}
	mutex_unlock(&paste_regions_mutex);
	return 0;
}
