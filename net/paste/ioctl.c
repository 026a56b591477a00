// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl(SIOCPASTE): pin, flush and release buffers of a region in batches.
 */
#include <linux/libnvdimm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <net/sock.h>

#include "paste.h"

/* Drop a reference of the socket's; the buffer changes state with the last. */
static void paste_drop_ref(struct sock *sk, struct paste_region *r, u32 slot,
			   bool pin)
{
	switch (paste_sock_forget(sk, slot, pin)) {
	case PASTE_DROP_PIN:
		paste_slot_pin(r, slot);
		break;
	case PASTE_DROP_FREE:
		paste_slot_free(r, slot);
		break;
	case PASTE_STILL_HELD:
		break;
	}
}

static int paste_pin_one(struct sock *sk, struct paste_region *r, u32 slot)
{
	struct paste_sock *ps = paste_sk(sk);

	if (slot >= r->nr_slots)
		return -ERANGE;
	if (!xa_load(&ps->owned, slot))
		return paste_slot_pinned(r, slot) ? -EALREADY : -ENOENT;

	paste_drop_ref(sk, r, slot, true);
	return 0;
}

static int paste_release_one(struct sock *sk, struct paste_region *r, u32 slot)
{
	struct paste_sock *ps = paste_sk(sk);

	if (slot >= r->nr_slots)
		return -ERANGE;
	if (xa_load(&ps->owned, slot)) {
		paste_drop_ref(sk, r, slot, false);
		return 0;
	}
	return paste_slot_unpin(r, slot);
}

/*
 * Write back one range, a page at a time. A range may span the whole
 * region: let others run in between.
 */
static int paste_flush_one(struct sock *sk, struct paste_region *r,
			   const struct paste_ref *ref)
{
	struct paste_sock *ps = paste_sk(sk);
	u64 off, end;

	if (!ref->len || ref->offset < r->offset ||
	    ref->offset - r->offset > r->length ||
	    ref->len > r->length - (ref->offset - r->offset))
		return -ERANGE;

	off = ref->offset - r->offset;
	end = off + ref->len;
	while (off < end) {
		u64 n = min_t(u64, end - off, PAGE_SIZE - offset_in_page(off));

		arch_wb_cache_pmem(paste_region_addr(r, off), n);
		off += n;
		cond_resched();
	}
	ps->flushes++;
	PASTE_INC_STATS(sock_net(sk), PASTE_MIB_FLUSHES);
	return 0;
}

/* ioctl(SIOCPASTE): pin, flush or release a batch, in order. */
static int paste_ioc_batch(struct sock *sk, void __user *arg)
{
	struct paste_ref *refs;
	struct paste_region *r;
	struct paste_ioc ioc;
	int err = 0;
	u32 i;

	if (copy_from_user(&ioc, arg, sizeof(ioc)))
		return -EFAULT;
	if (ioc.reserved || !ioc.count || ioc.count > PASTE_IOC_MAX_BATCH ||
	    ioc.op < PASTE_IOC_PIN || ioc.op > PASTE_IOC_RELEASE)
		return -EINVAL;
	/* Without the pmem API a write-back would persist nothing. */
	if (!IS_ENABLED(CONFIG_ARCH_HAS_PMEM_API) && ioc.op == PASTE_IOC_FLUSH)
		return -EOPNOTSUPP;

	refs = kvmalloc_array(ioc.count, sizeof(*refs), GFP_KERNEL);
	if (!refs)
		return -ENOMEM;
	if (copy_from_user(refs, u64_to_user_ptr(ioc.refs),
			   array_size(ioc.count, sizeof(*refs)))) {
		kvfree(refs);
		return -EFAULT;
	}

	lock_sock(sk);
	r = paste_sk_region(sk);
	if (!r) {
		err = -EINVAL;
		goto out;
	}
	for (i = 0; i < ioc.count; i++) {
		switch (ioc.op) {
		case PASTE_IOC_PIN:
			err = paste_pin_one(sk, r, refs[i].token);
			break;
		case PASTE_IOC_FLUSH:
			err = paste_flush_one(sk, r, &refs[i]);
			break;
		case PASTE_IOC_RELEASE:
			err = paste_release_one(sk, r, refs[i].token);
			break;
		}
		if (err)
			break;
	}
	if (ioc.op == PASTE_IOC_FLUSH && i)
		pmem_wmb();
	if (i)
		err = i;
out:
	release_sock(sk);
	kvfree(refs);
	return err;
}

/**
 * paste_ioctl - the PASTE ioctls of a TCP socket
 * @sk: the socket
 * @cmd: %SIOCPASTE or %SIOCPASTEBIND
 * @arg: user pointer to a struct paste_ioc or struct paste_rxq_bind
 *
 * %SIOCPASTE processes its entries in order until the first one that fails.
 *
 * Return: for %SIOCPASTE the number of entries processed, or the first
 * entry's error: -ERANGE (outside the region), -ENOENT (not held by this
 * socket), -EALREADY (already pinned or free), or -EINVAL, -EFAULT,
 * -ENOMEM. For %SIOCPASTEBIND see paste_rxq_bind_ioctl(). -EOPNOTSUPP on
 * a socket that is not TCP.
 */
int paste_ioctl(struct sock *sk, unsigned int cmd, void __user *arg)
{
	if (!sk_is_tcp(sk))
		return -EOPNOTSUPP;
	if (cmd == SIOCPASTEBIND)
		return paste_rxq_bind_ioctl(sk, arg);
	return paste_ioc_batch(sk, arg);
}
