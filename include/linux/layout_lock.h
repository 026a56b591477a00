/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Layout lock: keep the block layout of a file fixed while the kernel
 * holds long-lived references to its pages (see fs/layout_lock.c).
 */
#ifndef _LINUX_LAYOUT_LOCK_H
#define _LINUX_LAYOUT_LOCK_H

#include <linux/types.h>

struct inode;

#ifdef CONFIG_FS_LAYOUT_LOCK
int inode_layout_lock(struct inode *inode);
void inode_layout_unlock(struct inode *inode);
bool inode_layout_locked(const struct inode *inode);
#else
static inline bool inode_layout_locked(const struct inode *inode)
{
	return false;
}
#endif

#endif /* _LINUX_LAYOUT_LOCK_H */
