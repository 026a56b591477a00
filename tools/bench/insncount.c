// SPDX-License-Identifier: MIT
/*
 * insncount: a QEMU TCG plugin that counts the guest instructions each
 * vCPU executes and reports the counts whenever the guest executes the
 * marker "nopl 0x544e4349(%rax)" ("ICNT", see insnmark.c):
 *
 *   insncount: mark N vcpu0 C0 vcpu1 C1 ...   (cumulative counts)
 *
 * make bench runs one marker before and one after each measurement and
 * divides the difference by the requests served. Counts are exact for a
 * given guest execution; they do not depend on how fast the host is.
 */
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

/* QEMU's plugin callbacks carry no context for translation: file scope. */
static struct qemu_plugin_scoreboard *insns;
static unsigned int marks;

static void on_mark(unsigned int vcpu, void *udata)
{
	GString *s = g_string_new(NULL);
	int i, n = qemu_plugin_num_vcpus();

	(void)vcpu;
	(void)udata;
	g_string_printf(s, "insncount: mark %u", __atomic_add_fetch(&marks, 1,
								    __ATOMIC_RELAXED));
	for (i = 0; i < n; i++)
		g_string_append_printf(s, " vcpu%d %" PRIu64, i,
				       *(uint64_t *)qemu_plugin_scoreboard_find(insns, i));
	g_string_append_c(s, '\n');
	qemu_plugin_outs(s->str);
	g_string_free(s, TRUE);
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
		uint8_t b[16];

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
	(void)info;
	(void)argv;
	if (argc) {
		fprintf(stderr, "insncount: takes no arguments\n");
		return -1;
	}
	insns = qemu_plugin_scoreboard_new(sizeof(uint64_t));
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
	return 0;
}
