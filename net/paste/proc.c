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
	static const struct {
		const char *name;
		atomic64_t *v;
	} counters[] = {
		{ "PasteBytesPlaced", &paste_stats.bytes_placed },
		{ "PasteBytesCopied", &paste_stats.bytes_copied },
		{ "PasteBytesZeroCopy", &paste_stats.bytes_zerocopy },
		{ "PasteRefsOutstanding", &paste_stats.refs_outstanding },
		{ "PasteRegionFull", &paste_stats.region_full },
		{ "PasteFlushes", &paste_stats.flushes },
		{ "PasteRxPosted", &paste_stats.rx_posted },
		{ "PasteRxFilled", &paste_stats.rx_filled },
		{ "PasteRxBytes", &paste_stats.rx_bytes },
		{ "PasteRxFallback", &paste_stats.rx_fallback },
		{ "PasteCopyForeign", &paste_stats.copy_foreign },
		{ "PasteCopySplit", &paste_stats.copy_split },
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(counters); i++)
		seq_printf(seq, "%s\t%lld\n", counters[i].name,
			   atomic64_read(counters[i].v));
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
