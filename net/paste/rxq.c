// SPDX-License-Identifier: GPL-2.0
/*
 * Receive queues bound to a region: the device writes frames straight into
 * region buffers, and recvmsg(MSG_PASTE) hands the payload over in place.
 *
 * A binding belongs to the socket that made it (ioctl SIOCPASTEBIND) and
 * lasts until that socket is closed or the device is unregistered. The
 * driver implements ndo_paste_bind_rxq(); it is called under RTNL, with a
 * binding to bind and NULL to unbind, and must not return success before
 * its ring holds no region buffer any more. An unbind may fail: the
 * binding then stays, and is never freed while the driver may still post
 * from it. A channel change that would leave a bound queue out is refused.
 *
 * A region buffer is free, posted to a ring, filled by the device and held
 * by an skb, held by a socket, or pinned (net/paste/slot.c). fsdax pages
 * have no free callback, so a posted or filled buffer returns to the free
 * map when its page is idle: the ring and every skb that pointed at it let
 * go. The check runs, a few buffers at a time, whenever the region hands
 * out a buffer, and over all rx buffers at unbind and then every 100 ms
 * while rx buffers remain and no queue is bound.
 */
#include <linux/cred.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <net/paste_rxq.h>
#include <net/sock.h>

#include "paste.h"

/**
 * struct paste_rxq - a device receive queue bound to a region
 * @node: entry in paste_rxqs, under RTNL
 * @dev: the device, NULL once it is unbound
 * @dev_tracker: tracks the reference held on @dev
 * @queue: receive queue index
 * @region: the region, with a reference
 * @net: the device's network namespace at bind time, with a reference;
 *	its counters count the queue's events
 * @net_tracker: tracks the reference held on @net
 * @reserve: free buffers the device leaves for copying receives
 * @stranded: the device was unregistered while its driver could not unbind:
 *	the driver may still post from the binding, which is never freed
 * @release_work: unbinds and frees from process context, after close;
 *	tries again every second while the driver fails to unbind
 */
struct paste_rxq {
	struct list_head node;
	struct net_device *dev;
	netdevice_tracker dev_tracker;
	u32 queue;
	struct paste_region *region;
	struct net *net;
	netns_tracker net_tracker;
	u32 reserve;
	bool stranded;
	struct delayed_work release_work;
};

#define PASTE_RXQ_RESERVE	1024

static LIST_HEAD(paste_rxqs);

/**
 * paste_rxq_post - a region buffer for a bound ring
 * @rxq: the binding
 *
 * The page comes with a reference that the driver's ring, then the skb
 * built on it, owns. The driver posts the whole page.
 *
 * Return: the page, or NULL when the region is below its reserve of free
 * buffers; the driver then posts memory of its own.
 */
struct page *paste_rxq_post(struct paste_rxq *rxq)
{
	struct paste_region *r = rxq->region;
	u32 slot;

	slot = paste_slot_post(r, rxq->reserve);
	if (slot == PASTE_NO_SLOT) {
		PASTE_INC_STATS(rxq->net, PASTE_MIB_RX_FALLBACK);
		return NULL;
	}
	PASTE_INC_STATS(rxq->net, PASTE_MIB_RX_POSTED);
	return r->pages[slot];
}
EXPORT_SYMBOL_GPL(paste_rxq_post);

/**
 * paste_rxq_filled - note a region buffer the device filled
 * @rxq: the binding
 * @page: the page paste_rxq_post() gave, which the device wrote into
 * @len: bytes the device wrote into it
 *
 * Only a filled buffer can be handed to a socket in place.
 */
void paste_rxq_filled(struct paste_rxq *rxq, struct page *page, u32 len)
{
	struct net *net = rxq->net;

	paste_slot_filled(rxq->region, page);
	PASTE_INC_STATS(net, PASTE_MIB_RX_FILLED);
	PASTE_ADD_STATS(net, PASTE_MIB_RX_BYTES, len);
}
EXPORT_SYMBOL_GPL(paste_rxq_filled);

/*
 * If the driver cannot empty its ring of region buffers, the binding and
 * its region stay, rather than let the device write into a region that is
 * gone. An unregistering device must let go of its reference even so: the
 * binding is then stranded, with its region, for good (the driver may
 * still post from it if the device comes back in another namespace).
 */
static int paste_rxq_unbind(struct paste_rxq *rxq, bool unregistering)
{
	int err;

	ASSERT_RTNL();
	if (!rxq->dev)
		return 0;
	err = rxq->dev->netdev_ops->ndo_paste_bind_rxq(rxq->dev, rxq->queue,
						       NULL);
	if (err) {
		netdev_err(rxq->dev, "paste: unbind of rx queue %u failed: %d%s\n",
			   rxq->queue, err,
			   unregistering ? ", its region is kept for good" : "");
		if (!unregistering)
			return err;
		rxq->stranded = true;
	}
	netdev_put(rxq->dev, &rxq->dev_tracker);
	rxq->dev = NULL;
	if (!rxq->stranded)
		paste_region_unbind_rx(rxq->region);
	return 0;
}

static void paste_rxq_release_work(struct work_struct *work)
{
	struct paste_rxq *rxq = container_of(to_delayed_work(work),
					     struct paste_rxq, release_work);

	rtnl_lock();
	if (paste_rxq_unbind(rxq, false)) {
		rtnl_unlock();
		schedule_delayed_work(&rxq->release_work, HZ);
		return;
	}
	if (rxq->stranded) {
		rtnl_unlock();
		return;
	}
	list_del(&rxq->node);
	rtnl_unlock();
	paste_region_put(rxq->region);
	put_net_track(rxq->net, &rxq->net_tracker);
	kfree(rxq);
}

/**
 * paste_rxq_sock_destroy - unbind the queue a closing socket bound
 * @ps: the PASTE state of the socket, which is locked
 *
 * The socket lock may not be taken under RTNL's, so the unbind runs from a
 * work item; the binding keeps the region until then.
 */
void paste_rxq_sock_destroy(struct paste_sock *ps)
{
	struct paste_rxq *rxq = ps->rxq;

	if (!rxq)
		return;
	ps->rxq = NULL;
	schedule_delayed_work(&rxq->release_work, 0);
}

/*
 * The region must be able to hand whole pages to a device. And every
 * frame of the queue, whatever socket it is for, lands in the file: only
 * the binder may be able to read or write it, as only it could read the
 * queue through an AF_PACKET socket.
 */
static int paste_rxq_region_ok(const struct paste_region *r)
{
	const struct inode *inode = file_inode(r->file);
	unsigned long i;

	if (!r->dax)
		return -EOPNOTSUPP;
	if (!uid_eq(inode->i_uid, current_fsuid()) ||
	    (READ_ONCE(inode->i_mode) & 0077))
		return -EACCES;
	if (paste_slot_size(r) != PAGE_SIZE)
		return -EINVAL;
	/* Idle pages are recognised by the count of an order-0 page. */
	for (i = 0; i < r->nr_pages; i++)
		if (PageCompound(r->pages[i]))
			return -EOPNOTSUPP;
	return 0;
}

static struct paste_rxq *paste_rxq_find(const struct net_device *dev,
					u32 queue)
{
	struct paste_rxq *rxq;

	ASSERT_RTNL();
	list_for_each_entry(rxq, &paste_rxqs, node)
		if (rxq->dev == dev && rxq->queue == queue)
			return rxq;
	return NULL;
}

/**
 * paste_rxq_bind_ioctl - ioctl(SIOCPASTEBIND): bind a receive queue
 * @sk: a TCP socket with a region attached
 * @arg: user pointer to a struct paste_rxq_bind
 *
 * Return: 0, or -EPERM (no CAP_NET_ADMIN), -EINVAL (bad argument or no
 * region), -EACCES (the region's file is not the caller's alone),
 * -ENODEV (no such device), -EOPNOTSUPP (the device or the region cannot
 * do it), -EBUSY (the socket or the queue is bound already), -ERANGE (no
 * such queue), -EFAULT, -ENOMEM.
 */
int paste_rxq_bind_ioctl(struct sock *sk, void __user *arg)
{
	struct paste_rxq_bind req;
	struct net_device *dev;
	struct paste_region *r;
	struct paste_rxq *rxq;
	int err;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags || req.reserved)
		return -EINVAL;
	if (!ns_capable(sock_net(sk)->user_ns, CAP_NET_ADMIN))
		return -EPERM;

	rxq = kzalloc(sizeof(*rxq), GFP_KERNEL_ACCOUNT);
	if (!rxq)
		return -ENOMEM;
	INIT_LIST_HEAD(&rxq->node);
	INIT_DELAYED_WORK(&rxq->release_work, paste_rxq_release_work);

	rtnl_lock();
	lock_sock(sk);
	r = paste_sk_region(sk);
	err = -EINVAL;
	if (!r)
		goto out;
	err = -EBUSY;
	if (paste_sk(sk)->rxq)
		goto out;
	err = paste_rxq_region_ok(r);
	if (err)
		goto out;

	err = -ENODEV;
	dev = __dev_get_by_index(sock_net(sk), req.ifindex);
	if (!dev)
		goto out;
	err = -EOPNOTSUPP;
	if (!dev->netdev_ops->ndo_paste_bind_rxq)
		goto out;
	err = -ERANGE;
	if (req.queue >= dev->real_num_rx_queues)
		goto out;
	err = -EBUSY;
	if (paste_rxq_find(dev, req.queue))
		goto out;

	rxq->queue = req.queue;
	rxq->region = r;
	rxq->net = dev_net(dev);
	/*
	 * Leave a quarter of the region, at most PASTE_RXQ_RESERVE slots, to
	 * receives that copy: a larger share would send the NIC to its own
	 * pages long before the region runs out.
	 */
	rxq->reserve = min(r->nr_slots / 4, PASTE_RXQ_RESERVE);
	paste_region_bind_rx(r);

	err = dev->netdev_ops->ndo_paste_bind_rxq(dev, req.queue, rxq);
	if (err) {
		paste_region_unbind_rx(r);
		goto out;
	}

	refcount_inc(&r->refcnt);
	rxq->dev = dev;
	netdev_hold(dev, &rxq->dev_tracker, GFP_KERNEL);
	get_net_track(rxq->net, &rxq->net_tracker, GFP_KERNEL);
	list_add(&rxq->node, &paste_rxqs);
	paste_sk(sk)->rxq = rxq;
	rxq = NULL;
out:
	release_sock(sk);
	rtnl_unlock();
	kfree(rxq);
	return err;
}

/**
 * paste_dev_min_channel_count - the fewest channels @dev may be given
 * @dev: a network device
 *
 * ethtool refuses a channel count that would leave out a queue bound to a
 * PASTE region: the driver could then no longer unbind it.
 *
 * Return: the index of the highest bound queue plus one, or 0.
 */
u32 paste_dev_min_channel_count(const struct net_device *dev)
{
	struct paste_rxq *rxq;
	u32 min = 0;

	ASSERT_RTNL();
	list_for_each_entry(rxq, &paste_rxqs, node)
		if (rxq->dev == dev)
			min = max(min, rxq->queue + 1);
	return min;
}

static int paste_rxq_netdev_event(struct notifier_block *nb,
				  unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);
	struct paste_rxq *rxq;

	if (event != NETDEV_UNREGISTER)
		return NOTIFY_DONE;
	list_for_each_entry(rxq, &paste_rxqs, node)
		if (rxq->dev == dev)
			paste_rxq_unbind(rxq, true);
	return NOTIFY_DONE;
}

static struct notifier_block paste_rxq_notifier = {
	.notifier_call = paste_rxq_netdev_event,
};

static int __init paste_rxq_init(void)
{
	return register_netdevice_notifier(&paste_rxq_notifier);
}
device_initcall(paste_rxq_init);
