/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PASTE receive queues: the interface between PASTE and a NIC driver whose
 * receive queue is bound to a region.
 *
 * While a queue is bound, the driver posts page-sized region buffers that
 * paste_rxq_post() hands it instead of its own pages, and builds each skb
 * with a small linear head and the buffer page as a fragment. It never puts
 * kernel metadata (skb_shared_info, DMA state) in a region page. When
 * paste_rxq_post() has nothing, the driver posts its own memory: a region
 * that runs out never starves the ring.
 *
 * The driver reports each region buffer the device wrote into with
 * paste_rxq_filled(): only those are handed to sockets in place. A buffer
 * goes back to the region when no skb references its page any more; the
 * driver only drops its page references as for any other page.
 */
#ifndef _NET_PASTE_RXQ_H
#define _NET_PASTE_RXQ_H

#include <linux/mm.h>
#include <linux/skbuff.h>
#include <linux/types.h>

struct net_device;
struct paste_rxq;
struct page;

/**
 * paste_skb_device_frags - does @skb hold payload a device placed in pmem?
 * @skb: a received skb
 *
 * True when a page fragment of @skb is a ZONE_DEVICE page: a buffer of a
 * PASTE region (fsdax) that a bound queue received into. skb_condense()
 * must leave such fragments alone: pulling them into the linear head would
 * copy what the device placed, and recvmsg(MSG_PASTE) could then only copy
 * it back into the region.
 */
static inline bool paste_skb_device_frags(const struct sk_buff *skb)
{
	const struct skb_shared_info *shinfo = skb_shinfo(skb);
	int i;

	if (!IS_ENABLED(CONFIG_PASTE))
		return false;
	for (i = 0; i < shinfo->nr_frags; i++)
		if (is_zone_device_page(skb_frag_page(&shinfo->frags[i])))
			return true;
	return false;
}

#if IS_ENABLED(CONFIG_PASTE)
struct page *paste_rxq_post(struct paste_rxq *rxq);
void paste_rxq_filled(struct paste_rxq *rxq, struct page *page, u32 len);
u32 paste_dev_min_channel_count(const struct net_device *dev);
#else
static inline struct page *paste_rxq_post(struct paste_rxq *rxq)
{
	return NULL;
}

static inline void paste_rxq_filled(struct paste_rxq *rxq, struct page *page,
				    u32 len) {}
static inline u32 paste_dev_min_channel_count(const struct net_device *dev)
{
	return 0;
}
#endif

#endif /* _NET_PASTE_RXQ_H */
