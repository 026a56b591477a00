// SPDX-License-Identifier: GPL-2.0
/*
 * Layout lock: keep the block layout of a file fixed while the kernel holds
 * long-lived references to its pages.
 *
 * A PASTE region keeps the pages of a DAX (or shmem) file referenced for as
 * long as a socket uses it. Shrinking the file, punching a hole in it or
 * collapsing, inserting or zeroing a range would free or move those pages;
 * on fsdax it would also wait for the references to go away, forever. As
 * with an active swapfile, such requests fail with -ETXTBSY while the file
 * is locked. Growing the file and writing to it stay allowed.
 *
 * The lock is counted: every user takes it once and drops it once. The
 * caller must hold a reference to the inode (an open file) while locked.
 */
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/layout_lock.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

struct layout_lock {
	struct hlist_node node;
	const struct inode *inode;
	unsigned int count;
};

static DEFINE_HASHTABLE(layout_locks, 6);
static DEFINE_SPINLOCK(layout_locks_lock);
static atomic_t nr_layout_locks = ATOMIC_INIT(0);

static struct layout_lock *layout_lock_find(const struct inode *inode)
{
	struct layout_lock *ll;

	hash_for_each_possible(layout_locks, ll, node, (unsigned long)inode)
		if (ll->inode == inode)
			return ll;
	return NULL;
}

/**
 * inode_layout_lock - refuse layout changes of @inode until unlocked
 * @inode: inode of a regular file; the caller keeps a reference to it
 *
 * Takes the inode lock once, so that a truncate already in progress has
 * finished when this returns.
 *
 * Return: 0, or -ENOMEM.
 */
int inode_layout_lock(struct inode *inode)
{
	struct layout_lock *ll, *new;

	new = kzalloc(sizeof(*new), GFP_KERNEL);
	if (!new)
		return -ENOMEM;

	inode_lock(inode);
	spin_lock(&layout_locks_lock);
	ll = layout_lock_find(inode);
	if (!ll) {
		new->inode = inode;
		hash_add(layout_locks, &new->node, (unsigned long)inode);
		atomic_inc(&nr_layout_locks);
		ll = new;
		new = NULL;
	}
	ll->count++;
	spin_unlock(&layout_locks_lock);
	inode_unlock(inode);

	kfree(new);
	return 0;
}
EXPORT_SYMBOL_GPL(inode_layout_lock);

/**
 * inode_layout_unlock - drop one layout lock of @inode
 * @inode: inode locked with inode_layout_lock()
 */
void inode_layout_unlock(struct inode *inode)
{
	struct layout_lock *ll;

	spin_lock(&layout_locks_lock);
	ll = layout_lock_find(inode);
	if (WARN_ON_ONCE(!ll)) {
		spin_unlock(&layout_locks_lock);
		return;
	}
	if (--ll->count) {
		ll = NULL;
	} else {
		hash_del(&ll->node);
		atomic_dec(&nr_layout_locks);
	}
	spin_unlock(&layout_locks_lock);
	kfree(ll);
}
EXPORT_SYMBOL_GPL(inode_layout_unlock);

/**
 * inode_layout_locked - is the layout of @inode locked?
 * @inode: any inode
 *
 * Return: true while at least one inode_layout_lock() is held on @inode.
 */
bool inode_layout_locked(const struct inode *inode)
{
	bool locked;

	if (!atomic_read(&nr_layout_locks))
		return false;

	spin_lock(&layout_locks_lock);
	locked = layout_lock_find(inode);
	spin_unlock(&layout_locks_lock);
	return locked;
}
EXPORT_SYMBOL_GPL(inode_layout_locked);
