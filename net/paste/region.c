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
#include <linux/capability.h>
#include <linux/cred.h>
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
/* And make the next so many reads of pmem by a receive find poison. */
static atomic_t paste_read_pmem_fail;

static int __init paste_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("paste", NULL);

	debugfs_create_u32("attach_delay_ms", 0600, dir, &paste_attach_delay_ms);
	debugfs_create_atomic_t("inherit_fail", 0600, dir, &paste_inherit_fail);
	debugfs_create_atomic_t("read_pmem_fail", 0600, dir,
				&paste_read_pmem_fail);
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

/**
 * paste_debug_read_pmem_fail - should this read of pmem fail, for a selftest?
 *
 * TCG raises no machine check: this stands in for a poisoned line.
 *
 * Return: true while the debugfs count read_pmem_fail, decremented here,
 * was positive.
 */
bool paste_debug_read_pmem_fail(void)
{
	return atomic_add_unless(&paste_read_pmem_fail, -1, 0);
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
	paste_slot_maps_free(r);
	kfree_rcu(r, rcu);
}

/*
 * The last reference is gone. Every frame of a bound queue landed in the
 * region's pages, whatever socket it was for, and skbs of other sockets,
 * packet taps or pipes may still point into them: the pins, the layout
 * lock and the file stay until no page is referenced any more, or another
 * region could be given those pages, or the file's blocks another file.
 * Meanwhile the region stays listed ("draining"), and an attach to its
 * range is refused.
 */
static void paste_region_free_work(struct work_struct *work)
{
	struct paste_region *r = container_of(to_delayed_work(work),
					      struct paste_region, free_work);

	if (!paste_slots_idle(r)) {
		WRITE_ONCE(r->draining, true);
		schedule_delayed_work(&r->free_work, HZ / 10);
		return;
	}
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
 * from a work item, once no page of it is referenced from elsewhere.
 */
void paste_region_put(struct paste_region *r)
{
	if (refcount_dec_and_test(&r->refcnt))
		schedule_delayed_work(&r->free_work, 0);
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
	if ((req->flags & PASTE_REGION_VOLATILE) &&
	    (req->flags & PASTE_REGION_DURABLE))
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

/* How long an attach waits for a region of its range to go away. */
#define PASTE_ATTACH_WAIT	HZ

/*
 * Find the live region of @inode overlapping [offset, offset + length) and
 * take a reference to it. A region whose last reference is gone stays on
 * the list until its teardown work has run, which may wait for its pages
 * (draining): it cannot be shared, and its range is busy, as
 * ERR_PTR(-EBUSY) says.
 */
static struct paste_region *paste_region_find_get(const struct inode *inode,
						  u64 offset, u64 length)
{
	struct paste_region *r, *found = NULL;

	lockdep_assert_held(&paste_regions_mutex);
	list_for_each_entry(r, &paste_regions, node) {
		if (file_inode(r->file) != inode ||
		    offset >= r->offset + r->length || r->offset >= offset + length)
			continue;
		paste_debug_attach_window();
		if (refcount_inc_not_zero(&r->refcnt))
			return r;
		found = ERR_PTR(-EBUSY);
	}
	return found;
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
	INIT_DELAYED_WORK(&r->free_work, paste_region_free_work);
	paste_slot_reclaim_init(r);
	r->file = file;
	r->offset = req->offset;
	r->length = req->length;
	r->flags = req->flags;
	r->dax = dax;
	r->slot_shift = ilog2(slot);
	r->nr_slots = req->length >> r->slot_shift;
	r->nr_pages = req->length >> PAGE_SHIFT;
	err = paste_slot_maps_alloc(r);
	if (err)
		goto err_kfree;

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
	paste_slot_maps_free(r);
err_kfree:
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
 * @claimed: set to the slots this call claimed for @req's owned ranges (a
 *	map the caller ends with paste_slots_claim_end() and kvfree()s), or
 *	to NULL when there are none
 *
 * A request for the same file range as an existing region shares it, and
 * must ask for the same slot size and flags, whatever namespace created it.
 * A new region is created, and its pages pinned, without the global lock:
 * if another attach published the same range meanwhile, that one is shared
 * and the new one torn down. The ranges the request says the application
 * owns are claimed before the region is returned, and for a new region
 * before other sockets can find it: no socket can take, release or pin
 * their slots until the caller ends the claim.
 *
 * Return: the region with a reference for the caller, or an ERR_PTR().
 */
struct paste_region *paste_region_attach(const struct paste_region_req *req,
					 const struct net *net,
					 unsigned long **claimed)
{
	unsigned long deadline = jiffies + PASTE_ATTACH_WAIT;
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
	if (IS_ERR(r)) {
		mutex_unlock(&paste_regions_mutex);
		if (time_before(jiffies, deadline)) {
			msleep(20);
			goto again;
		}
		if (fresh)
			paste_region_destroy(fresh);
		err = PTR_ERR(r);
		goto err_free;
	} else if (r) {
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
		fresh->uid = current_fsuid();
		file = NULL;
		goto again;
	}

	if (owned) {
		err = -ENOMEM;
		bits = kvcalloc(BITS_TO_LONGS(r->nr_slots), sizeof(long),
				GFP_KERNEL_ACCOUNT);
		if (!bits)
			goto err_put;
		err = paste_slots_claim(r, owned, req->nr_owned, bits);
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
	kvfree(bits);
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
 * The file and region of another user's server are not everybody's to
 * see: a reader sees the regions its own user created, and all of them
 * with CAP_NET_ADMIN.
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
		if (!uid_eq(r->uid, seq->file->f_cred->fsuid) &&
		    !file_ns_capable(seq->file, net->user_ns, CAP_NET_ADMIN))
			continue;

		spin_lock_bh(&r->lock);
		nr_free = r->nr_free;
		nr_pinned = r->nr_pinned;
		nr_rx = r->nr_rx;
		spin_unlock_bh(&r->lock);
		seq_printf(seq, "%u:%u\t%lu\t%llu\t%llu\t%u\t%u\t%u\t%u\t%u\t%u\t%s%s%s%s\n",
			   MAJOR(inode->i_sb->s_dev), MINOR(inode->i_sb->s_dev),
			   inode->i_ino, r->offset, r->length,
			   paste_slot_size(r), r->nr_slots, nr_free, nr_pinned,
			   nr_rx, refcount_read(&r->refcnt),
			   r->dax ? "dax" : "volatile",
			   r->flags & PASTE_REGION_DURABLE ? ",durable" : "",
			   r->zerocopy ? ",zerocopy" : "",
			   READ_ONCE(r->draining) ? ",draining" : "");
	}
	mutex_unlock(&paste_regions_mutex);
	return 0;
}
