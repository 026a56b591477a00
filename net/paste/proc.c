// SPDX-License-Identifier: GPL-2.0
/*
 * /proc/net/paste: global PASTE counters and the live regions.
 */
#include <linux/init.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>

#include "paste.h"

struct paste_stats paste_stats;

static int paste_proc_show(struct seq_file *seq, void *v)
{
	seq_printf(seq, "PasteBytesPlaced\t%lld\n",
		   atomic64_read(&paste_stats.bytes_placed));
	seq_printf(seq, "PasteBytesCopied\t%lld\n",
		   atomic64_read(&paste_stats.bytes_copied));
	seq_printf(seq, "PasteRefsOutstanding\t%lld\n",
		   atomic64_read(&paste_stats.refs_outstanding));
	seq_printf(seq, "PasteRegionFull\t%lld\n",
		   atomic64_read(&paste_stats.region_full));
	seq_printf(seq, "PasteFlushes\t%lld\n",
		   atomic64_read(&paste_stats.flushes));
	return paste_proc_show_regions(seq);
}

static int __net_init paste_net_init(struct net *net)
{
	if (!proc_create_net_single("paste", 0444, net->proc_net,
				    paste_proc_show, NULL))
		return -ENOMEM;
	return 0;
}

static void __net_exit paste_net_exit(struct net *net)
{
	remove_proc_entry("paste", net->proc_net);
}

static struct pernet_operations paste_net_ops = {
	.init = paste_net_init,
	.exit = paste_net_exit,
};

static int __init paste_init(void)
{
	return register_pernet_subsys(&paste_net_ops);
}
device_initcall(paste_init);
