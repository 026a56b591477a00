// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/paste: the namespace's PASTE counters and the regions created
 * in it.
 */
#include <linux/init.h>
#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "paste.h"

/**
 * struct paste_net - PASTE state of a network namespace
 * @mib: the namespace's counters, per CPU
 */
struct paste_net {
	struct paste_mib __percpu *mib;
};

static unsigned int paste_net_id __read_mostly;

/**
 * paste_net_mib - the counters of a network namespace
 * @net: the namespace
 *
 * Return: the per-CPU counters, for PASTE_ADD_STATS() and friends.
 */
struct paste_mib __percpu *paste_net_mib(const struct net *net)
{
	const struct paste_net *pn = net_generic(net, paste_net_id);

	return pn->mib;
}

static const char *const paste_mib_names[PASTE_MIB_MAX] = {
	[PASTE_MIB_BYTES_PLACED] = "PasteBytesPlaced",
	[PASTE_MIB_BYTES_COPIED] = "PasteBytesCopied",
	[PASTE_MIB_BYTES_ZEROCOPY] = "PasteBytesZeroCopy",
	[PASTE_MIB_REFS_OUTSTANDING] = "PasteRefsOutstanding",
	[PASTE_MIB_REGION_FULL] = "PasteRegionFull",
	[PASTE_MIB_HELD_FULL] = "PasteHeldFull",
	[PASTE_MIB_FLUSHES] = "PasteFlushes",
	[PASTE_MIB_RX_POSTED] = "PasteRxPosted",
	[PASTE_MIB_RX_FILLED] = "PasteRxFilled",
	[PASTE_MIB_RX_BYTES] = "PasteRxBytes",
	[PASTE_MIB_RX_FALLBACK] = "PasteRxFallback",
	[PASTE_MIB_COPY_FOREIGN] = "PasteCopyForeign",
	[PASTE_MIB_COPY_SMALL] = "PasteCopySmall",
	[PASTE_MIB_COPY_SPLIT] = "PasteCopySplit",
};

static int paste_proc_show(struct seq_file *seq, void *v)
{
	struct net *net = seq_file_single_net(seq);
	struct paste_mib __percpu *mib = paste_net_mib(net);
	u64 sum[PASTE_MIB_MAX] = {};
	int cpu, i;

	for_each_possible_cpu(cpu)
		for (i = 0; i < PASTE_MIB_MAX; i++)
			sum[i] += READ_ONCE(per_cpu_ptr(mib, cpu)->mibs[i]);
	for (i = 0; i < PASTE_MIB_MAX; i++)
		seq_printf(seq, "%s\t%lld\n", paste_mib_names[i], (s64)sum[i]);
	return paste_proc_show_regions(seq, net);
}

static int __net_init paste_net_init(struct net *net)
{
	struct paste_net *pn = net_generic(net, paste_net_id);

	pn->mib = alloc_percpu(struct paste_mib);
	if (!pn->mib)
		return -ENOMEM;
	if (!proc_create_net_single("paste", 0444, net->proc_net,
				    paste_proc_show, NULL)) {
		free_percpu(pn->mib);
		return -ENOMEM;
	}
	return 0;
}

static void __net_exit paste_net_exit(struct net *net)
{
	struct paste_net *pn = net_generic(net, paste_net_id);

	remove_proc_entry("paste", net->proc_net);
	free_percpu(pn->mib);
}

static struct pernet_operations paste_net_ops = {
	.init = paste_net_init,
	.exit = paste_net_exit,
	.id = &paste_net_id,
	.size = sizeof(struct paste_net),
};

static int __init paste_init(void)
{
	return register_pernet_subsys(&paste_net_ops);
}
device_initcall(paste_init);
