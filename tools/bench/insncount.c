// SPDX-License-Identifier: MIT
/*
 * insncount: a QEMU TCG plugin that counts the guest instructions each
 * vCPU executes and reports the counts whenever the guest executes the
 * marker "nopl 0x544e4349(%rax)" ("ICNT", see insnmark.c):
 *
 *   insncount: mark N vcpu0 C0 vcpu1 C1 ...   (cumulative counts)
 *
 * With arguments fn=NAME@ADDR (guest virtual addresses, from System.map
 * of a kernel booted with nokaslr), it also counts how often each of
 * those instructions runs, i.e. calls of those kernel functions:
 *
 *   insncount: mark N fn NAME COUNT ...
 *
 * With pmem=BASE:SIZE (guest physical, hex), it also counts the bytes
 * that guest instructions store into that range, the emulated NVDIMM:
 *
 *   insncount: mark N pmem BYTES   (cumulative)
 *
 * The device model's DMA is not an instruction and is not counted, so on
 * a zero-copy receive path the payload adds nothing here, while a copy
 * adds at least its length. Stores count from the first mark on: looking
 * up a physical address while boot reprograms PCI windows can trip QEMU
 * 10's iotlb_to_section() assertion (a TLB entry older than the memory
 * map).
 *
 * make bench runs one marker before and one after each measurement and
 * divides the difference by the requests served. Counts are exact for a
 * given guest execution; they do not depend on how fast the host is.
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MAX_FNS 32

/* QEMU's plugin callbacks carry no context for translation: file scope. */
static struct qemu_plugin_scoreboard *insns;
static unsigned int marks;
static struct fn {
	char name[64];
	uint64_t addr;
	struct qemu_plugin_scoreboard *calls;
} fns[MAX_FNS];
static int nfns;
static uint64_t pmem_base, pmem_size;
static bool pmem_armed;
static struct qemu_plugin_scoreboard *pmem_bytes;

static uint64_t sum(struct qemu_plugin_scoreboard *sb)
{
	uint64_t total = 0;
	int i;

	for (i = 0; i < qemu_plugin_num_vcpus(); i++)
		total += *(uint64_t *)qemu_plugin_scoreboard_find(sb, i);
	return total;
}

static void on_mark(unsigned int vcpu, void *udata)
{
	GString *s = g_string_new(NULL);
	int i, n = qemu_plugin_num_vcpus();
	unsigned int m = __atomic_add_fetch(&marks, 1, __ATOMIC_RELAXED);

	__atomic_store_n(&pmem_armed, true, __ATOMIC_RELAXED);
	(void)vcpu;
	(void)udata;
	g_string_printf(s, "insncount: mark %u", m);
	for (i = 0; i < n; i++)
		g_string_append_printf(s, " vcpu%d %" PRIu64, i,
				       *(uint64_t *)qemu_plugin_scoreboard_find(insns, i));
	g_string_append_c(s, '\n');
	if (pmem_size)
		g_string_append_printf(s, "insncount: mark %u pmem %" PRIu64 "\n",
				       m, sum(pmem_bytes));
	if (nfns) {
		g_string_append_printf(s, "insncount: mark %u fn", m);
		for (i = 0; i < nfns; i++)
			g_string_append_printf(s, " %s %" PRIu64, fns[i].name,
					       sum(fns[i].calls));
		g_string_append_c(s, '\n');
	}
	qemu_plugin_outs(s->str);
	g_string_free(s, TRUE);
}

static void on_store(unsigned int vcpu, qemu_plugin_meminfo_t info,
		     uint64_t vaddr, void *udata)
{
	struct qemu_plugin_hwaddr *hw;
	uint64_t pa;

	(void)udata;
	if (!__atomic_load_n(&pmem_armed, __ATOMIC_RELAXED))
		return;
	hw = qemu_plugin_get_hwaddr(info, vaddr);
	if (!hw || qemu_plugin_hwaddr_is_io(hw))
		return;
	pa = qemu_plugin_hwaddr_phys_addr(hw);
	if (pa - pmem_base < pmem_size)
		*(uint64_t *)qemu_plugin_scoreboard_find(pmem_bytes, vcpu) +=
			1u << qemu_plugin_mem_size_shift(info);
}

static void on_tb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	static const uint8_t mark[] = { 0x0f, 0x1f, 0x80, 'I', 'C', 'N', 'T' };
	qemu_plugin_u64 count = qemu_plugin_scoreboard_u64(insns);
	size_t i, n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(tb,
		QEMU_PLUGIN_INLINE_ADD_U64, count, n);
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint64_t va = qemu_plugin_insn_vaddr(insn);
		uint8_t b[16];
		int f;

		if (pmem_size)
			qemu_plugin_register_vcpu_mem_cb(insn, on_store,
				QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_W, NULL);
		for (f = 0; f < nfns; f++)
			if (va == fns[f].addr)
				qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(insn,
					QEMU_PLUGIN_INLINE_ADD_U64,
					qemu_plugin_scoreboard_u64(fns[f].calls), 1);

		if (qemu_plugin_insn_data(insn, b, sizeof(b)) == sizeof(mark) &&
		    !memcmp(b, mark, sizeof(mark)))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark,
				QEMU_PLUGIN_CB_NO_REGS, NULL);
	}
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	int i;

	(void)info;
	for (i = 0; i < argc; i++) {
		const char *at = strchr(argv[i], '@');
		size_t len = at ? (size_t)(at - argv[i]) : 0;
		char *end;

		if (!strncmp(argv[i], "pmem=", 5)) {
			pmem_base = strtoull(argv[i] + 5, &end, 16);
			if (*end == ':')
				pmem_size = strtoull(end + 1, &end, 16);
			if (*end || !pmem_size) {
				fprintf(stderr, "insncount: bad argument %s (pmem=BASE:SIZE)\n",
					argv[i]);
				return -1;
			}
			continue;
		}
		if (strncmp(argv[i], "fn=", 3) || !at || len - 3 >= sizeof(fns[0].name) ||
		    nfns == MAX_FNS) {
			fprintf(stderr, "insncount: bad argument %s (fn=NAME@ADDR)\n",
				argv[i]);
			return -1;
		}
		memcpy(fns[nfns].name, argv[i] + 3, len - 3);
		fns[nfns].addr = strtoull(at + 1, NULL, 16);
		fns[nfns].calls = qemu_plugin_scoreboard_new(sizeof(uint64_t));
		nfns++;
	}
	insns = qemu_plugin_scoreboard_new(sizeof(uint64_t));
	pmem_bytes = qemu_plugin_scoreboard_new(sizeof(uint64_t));
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
	return 0;
}
