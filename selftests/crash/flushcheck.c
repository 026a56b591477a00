// SPDX-License-Identifier: GPL-2.0
/*
 * flushcheck: a QEMU TCG plugin that models the x86 persistence domain of
 * an emulated NVDIMM and writes crash images at chosen instants.
 *
 * TCG has no caches: every store reaches the NVDIMM's backing file at once,
 * so killing QEMU can never expose a missing flush or fence. This plugin
 * keeps a second image, "media", holding only what real hardware would
 * have made durable:
 *
 *   clwb/clflushopt of a line   the line's content at that instant becomes
 *                               durable at this vCPU's next sfence/mfence
 *   clflush of a line           durable at once (it is ordered by itself)
 *   movnt* (non-temporal) store durable at this vCPU's next sfence/mfence
 *   any other store             never durable on its own
 *
 * Each layer is held to its own contract. The kernel's pmem driver and
 * file systems rely on what the SDM promises: a locked instruction (or xchg
 * with memory) drains write-combining buffers and orders earlier
 * clwb/clflushopt like a fence. So a locked instruction executed in kernel
 * mode makes the kernel's own pending writes on that vCPU durable. User
 * space gets no such help: libpaste promises a record is durable when its
 * commit returns, whatever the caller does next (an io_uring SQPOLL thread
 * on another CPU may send the reply), so a user write-back is durable only
 * at an sfence/mfence on its vCPU.
 *
 * TCG translates clwb and friends as no-ops without a memory access, so the
 * flushed line is computed from the instruction's ModRM/SIB operand and the
 * vCPU's registers, and translated to a physical address by walking the
 * guest's page tables (read through the kernel's direct map). Every flush
 * is cross-checked: the line read through the guest MMU must equal the
 * line in the backing file.
 *
 * A crash point is the instruction "nopl 0x54534150(%rax)" ("PAST"), which
 * crashload executes right after printing what was acknowledged. There the
 * plugin writes point-<n>.img (media: every non-durable store dropped) and
 * point-<n>-r.img (media plus a random half of the non-durable 8-byte
 * words, as if some dirty lines had been evicted early).
 *
 * "nopl 0x3?4b4843(%rax)" ("CHK1".."CHK9") marks positions inside pasted's
 * checkpoint (the checker's builds of pasted only): there, up to
 * checkpoints=N times, the plugin writes checkpoint-<m>.img,
 * checkpoint-<m>-r.img and checkpoint-<m>-t.img (in each page, the later
 * half of the non-durable words kept) and says after which crashload
 * point it came.
 *
 * Arguments: img=FILE base=PHYS size=BYTES out=DIR [every=N] [max=N]
 * [checkpoints=N] [checkpoint-at=POS] [seed=N] [physmap=VADDR].
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define LINE		64
#define MAX_VCPUS	8
#define NO_REG		31

/* What an instruction is to the model; packed into callback user data. */
enum kind { K_CLWB = 1, K_CLFLUSH, K_FENCE, K_POINT, K_CHECKPOINT };

/* In callback user data: the instruction runs in kernel mode. */
#define KERNEL_INSN	(1ULL << 18)

struct pending {
	uint64_t off;
	uint32_t len;
	bool kernel;				/* written back by the kernel */
	uint8_t data[LINE];
};

struct vcpu {
	struct qemu_plugin_register *gpr[16];	/* ModRM register order */
	struct qemu_plugin_register *cr3, *cr4, *fs_base, *gs_base;
	struct pending *p;			/* awaiting this vCPU's fence */
	size_t np, cap;
	size_t nkernel;				/* of them written by the kernel */
	GByteArray *buf;
};

struct checker {
	uint64_t base, size;			/* NVDIMM physical range */
	uint64_t physmap;			/* kernel direct map, or 0: auto */
	const uint8_t *live;			/* the backing file, as QEMU sees it */
	uint8_t *media;				/* what would survive a power cut */
	const char *out;
	unsigned int every, max, dumped, points;
	unsigned int ckpt_max, ckpt_dumped, ckpt_marks, ckpt_at;
	uint64_t rng;
	pthread_mutex_t lock;
	struct vcpu cpu[MAX_VCPUS];
	uint64_t nt_stores, flushes, fences, locked, unresolved, mismatches;
};

/* QEMU's plugin callbacks carry no context pointer: one checker per QEMU. */
static struct checker ck = { .every = 1, .max = 8, .rng = 1,
			     .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t reg_read(struct vcpu *v, struct qemu_plugin_register *r)
{
	uint64_t x = 0;

	if (!r)
		return 0;
	g_byte_array_set_size(v->buf, 0);
	if (qemu_plugin_read_register(r, v->buf) <= 0)
		return 0;
	memcpy(&x, v->buf->data, v->buf->len < 8 ? v->buf->len : 8);
	return x;
}

static bool vread(struct vcpu *v, uint64_t va, void *dst, size_t len)
{
	g_byte_array_set_size(v->buf, 0);
	if (!qemu_plugin_read_memory_vaddr(va, v->buf, len) || v->buf->len != len)
		return false;
	memcpy(dst, v->buf->data, len);
	return true;
}

/* Guest virtual to physical: a 4- or 5-level page walk from CR3. */
static bool translate(struct vcpu *v, uint64_t va, uint64_t *pa)
{
	const uint64_t addr_mask = 0x000ffffffffff000ULL;
	uint64_t cr4 = reg_read(v, v->cr4), table = reg_read(v, v->cr3) & addr_mask;
	int level = (cr4 & (1 << 12)) ? 5 : 4;
	uint64_t physmap = ck.physmap ? ck.physmap :
			   level == 5 ? 0xff11000000000000ULL : 0xffff888000000000ULL;

	for (; level >= 1; level--) {
		unsigned int shift = 12 + 9 * (level - 1);
		uint64_t e;

		if (!vread(v, physmap + table + ((va >> shift) & 511) * 8, &e, 8) ||
		    !(e & 1))
			return false;
		if (level == 1 || (level <= 3 && (e & 0x80))) {
			uint64_t page = (1ULL << shift) - 1;

			*pa = ((e & addr_mask) & ~page) | (va & page);
			return true;
		}
		table = e & addr_mask;
	}
	return false;
}

static void pend(struct vcpu *v, uint64_t off, uint32_t len, bool kernel)
{
	if (v->np == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 256;
		v->p = g_renew(struct pending, v->p, v->cap);
	}
	v->p[v->np].off = off;
	v->p[v->np].len = len;
	v->p[v->np].kernel = kernel;
	memcpy(v->p[v->np].data, ck.live + off, len);
	v->np++;
	v->nkernel += kernel;
}

/* ------------------------------------------------------------ decoding */

/*
 * Operand of a memory-form 0f ae instruction, packed as user data:
 * kind:4 base:5 index:5 scale:2 seg:2 kernel:1 disp:32.
 */
static uint64_t pack(enum kind k, unsigned int base, unsigned int index,
		     unsigned int scale, unsigned int seg, int32_t disp)
{
	return k | (uint64_t)base << 4 | (uint64_t)index << 9 |
	       (uint64_t)scale << 14 | (uint64_t)seg << 16 |
	       (uint64_t)(uint32_t)disp << 32;
}

/*
 * Classify one instruction: clwb / clflushopt / clflush with their operand,
 * sfence / mfence, the crash-point NOP, or 0.
 */
static uint64_t classify(const uint8_t *b, size_t n)
{
	static const uint8_t point[] = { 0x0f, 0x1f, 0x80, 'P', 'A', 'S', 'T' };
	static const uint8_t ckpt[] = { 0x0f, 0x1f, 0x80, 'C', 'H', 'K' };
	unsigned int i = 0, rex = 0, seg = 0, mod, reg, rm, base, index = NO_REG;
	unsigned int scale = 0;
	bool opsize = false;
	int32_t disp = 0;

	if (n == sizeof(point) && !memcmp(b, point, n))
		return K_POINT;
	if (n == sizeof(ckpt) + 1 && !memcmp(b, ckpt, sizeof(ckpt)) &&
	    b[n - 1] >= '1' && b[n - 1] <= '9')
		return K_CHECKPOINT | (uint64_t)(b[n - 1] - '0') << 4;
	for (; i < n; i++) {
		if (b[i] == 0x66)
			opsize = true;
		else if (b[i] == 0x64)
			seg = 1;
		else if (b[i] == 0x65)
			seg = 2;
		else if (b[i] == 0xf2 || b[i] == 0xf3 || b[i] == 0x2e ||
			 b[i] == 0x3e || b[i] == 0x26 || b[i] == 0x36 ||
			 b[i] == 0x67 || b[i] == 0xf0)
			return 0;	/* not one of ours */
		else
			break;
	}
	if (i < n && (b[i] & 0xf0) == 0x40)
		rex = b[i++];
	if (i + 3 > n || b[i] != 0x0f || b[i + 1] != 0xae)
		return 0;
	i += 2;
	mod = b[i] >> 6;
	reg = (b[i] >> 3) & 7;
	rm = b[i] & 7;
	i++;
	if (mod == 3)		/* lfence (5), mfence (6), sfence (7) */
		return !opsize && (reg == 6 || reg == 7) ? K_FENCE : 0;
	if (reg != 6 && reg != 7)
		return 0;
	if (reg == 6 && !opsize)
		return 0;	/* xsaveopt */
	base = rm | (rex & 1) << 3;
	if (rm == 4) {
		uint8_t sib;

		if (i >= n)
			return 0;
		sib = b[i++];
		scale = sib >> 6;
		index = ((sib >> 3) & 7) | (rex & 2) << 2;
		if (index == 4)
			index = NO_REG;
		base = (sib & 7) | (rex & 1) << 3;
		if ((sib & 7) == 5 && mod == 0) {
			base = NO_REG;
			mod = 2;	/* disp32 follows */
		}
	} else if (rm == 5 && mod == 0) {
		return pack(reg == 6 || opsize ? K_CLWB : K_CLFLUSH, NO_REG - 1,
			    NO_REG, 0, seg, 0);	/* RIP-relative: unresolved */
	}
	if (mod == 1 && i + 1 <= n)
		disp = (int8_t)b[i];
	else if (mod == 2 && i + 4 <= n)
		memcpy(&disp, b + i, 4);
	/* clwb (66 /6) and clflushopt (66 /7) wait for a fence. */
	return pack(opsize ? K_CLWB : K_CLFLUSH, base, index, scale, seg, disp);
}

/* ------------------------------------------------------------ events */

static void on_flush(unsigned int vcpu, void *udata)
{
	uint64_t u = (uintptr_t)udata, va, pa, off;
	struct vcpu *v = &ck.cpu[vcpu % MAX_VCPUS];
	unsigned int base = (u >> 4) & 31, index = (u >> 9) & 31;
	uint8_t line[LINE];

	if (base == NO_REG - 1) {
		__atomic_fetch_add(&ck.unresolved, 1, __ATOMIC_RELAXED);
		return;
	}
	va = (uint64_t)(int64_t)(int32_t)(u >> 32);
	if (base != NO_REG)
		va += reg_read(v, v->gpr[base]);
	if (index != NO_REG)
		va += reg_read(v, v->gpr[index]) << ((u >> 14) & 3);
	if (((u >> 16) & 3) == 1)
		va += reg_read(v, v->fs_base);
	else if (((u >> 16) & 3) == 2)
		va += reg_read(v, v->gs_base);
	va &= ~(uint64_t)(LINE - 1);
	if (!translate(v, va, &pa)) {
		__atomic_fetch_add(&ck.unresolved, 1, __ATOMIC_RELAXED);
		return;
	}
	if (pa < ck.base || pa >= ck.base + ck.size)
		return;
	off = pa - ck.base;
	pthread_mutex_lock(&ck.lock);
	ck.flushes++;
	if (!vread(v, va, line, LINE) || memcmp(line, ck.live + off, LINE))
		ck.mismatches++;
	if ((u & 15) == K_CLFLUSH)
		memcpy(ck.media + off, ck.live + off, LINE);
	else
		pend(v, off, LINE, u & KERNEL_INSN);
	pthread_mutex_unlock(&ck.lock);
}

static void on_nt_store(unsigned int vcpu, qemu_plugin_meminfo_t info,
			uint64_t vaddr, void *udata)
{
	struct qemu_plugin_hwaddr *hw = qemu_plugin_get_hwaddr(info, vaddr);
	uint32_t len = 1U << qemu_plugin_mem_size_shift(info);
	uint64_t pa;

	if (!hw || qemu_plugin_hwaddr_is_io(hw))
		return;
	pa = qemu_plugin_hwaddr_phys_addr(hw);
	if (pa < ck.base || pa + len > ck.base + ck.size || len > LINE)
		return;
	pthread_mutex_lock(&ck.lock);
	ck.nt_stores++;
	pend(&ck.cpu[vcpu % MAX_VCPUS], pa - ck.base, len, udata != NULL);
	pthread_mutex_unlock(&ck.lock);
}

/* Give older pending bytes @old the newer value @new has for them. */
static void overlay(struct pending *old, const struct pending *new)
{
	uint64_t lo = old->off > new->off ? old->off : new->off;
	uint64_t hi = old->off + old->len < new->off + new->len ?
		      old->off + old->len : new->off + new->len;

	if (lo < hi)
		memcpy(old->data + (lo - old->off), new->data + (lo - new->off),
		       hi - lo);
}

static void on_fence(unsigned int vcpu, void *udata)
{
	struct vcpu *v = &ck.cpu[vcpu % MAX_VCPUS];
	size_t i;

	(void)udata;
	if (!v->np)
		return;
	pthread_mutex_lock(&ck.lock);
	ck.fences++;
	for (i = 0; i < v->np; i++)
		memcpy(ck.media + v->p[i].off, v->p[i].data, v->p[i].len);
	v->np = 0;
	v->nkernel = 0;
	pthread_mutex_unlock(&ck.lock);
}

/*
 * A kernel-mode locked instruction: the kernel's pending writes become
 * durable. A user write-back still pending from before them must not put
 * older bytes back when its fence comes, so it takes their values.
 */
static void on_locked(unsigned int vcpu, void *udata)
{
	struct vcpu *v = &ck.cpu[vcpu % MAX_VCPUS];
	size_t i, j, kept = 0;

	(void)udata;
	if (!v->nkernel)	/* the common case: one test per locked op */
		return;
	pthread_mutex_lock(&ck.lock);
	ck.locked++;
	for (i = 0; i < v->np; i++) {
		if (!v->p[i].kernel) {
			for (j = i + 1; j < v->np; j++)
				if (v->p[j].kernel)
					overlay(&v->p[i], &v->p[j]);
			v->p[kept++] = v->p[i];
			continue;
		}
		memcpy(ck.media + v->p[i].off, v->p[i].data, v->p[i].len);
	}
	v->np = kept;
	v->nkernel = 0;
	pthread_mutex_unlock(&ck.lock);
}

/* lock-prefixed, or xchg with a memory operand (locked implicitly). */
static bool is_locked(const char *dis)
{
	return g_str_has_prefix(dis, "lock ") ||
	       (g_str_has_prefix(dis, "xchg") &&
		(strchr(dis, '(') || strchr(dis, '[')));
}

static uint64_t next_rand(void)
{
	ck.rng ^= ck.rng << 13;
	ck.rng ^= ck.rng >> 7;
	ck.rng ^= ck.rng << 17;
	return ck.rng;
}

static int write_image(const char *name, const uint8_t *img)
{
	char path[4096];
	uint64_t done = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", ck.out, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (done < ck.size) {
		ssize_t n = pwrite(fd, img + done, ck.size - done, done);

		if (n <= 0) {
			close(fd);
			return n ? -errno : -EIO;
		}
		done += n;
	}
	return close(fd) ? -errno : 0;
}

/*
 * Write @tag-@n.img (media) and @tag-@n-r.img (media plus a random half of
 * the non-durable 8-byte words) and say where the non-durable words are.
 * Called with ck.lock held.
 */
static void dump(const char *tag, unsigned int n, bool tail)
{
	uint64_t words = 0, taken = 0, i, page = UINT64_MAX, nwords = 0;
	unsigned int shown = 0;
	uint8_t *mixed;
	char name[64], msg[256];
	int err;

	snprintf(name, sizeof(name), "%s-%u.img", tag, n);
	err = write_image(name, ck.media);
	mixed = g_malloc(ck.size);
	memcpy(mixed, ck.media, ck.size);
	for (i = 0; i + 8 <= ck.size; i += 8) {
		if (!memcmp(ck.media + i, ck.live + i, 8))
			continue;
		words++;
		if (next_rand() & 1) {
			memcpy(mixed + i, ck.live + i, 8);
			taken++;
		}
	}
	/* Where the non-durable words are: the first pages, for diagnosis. */
	for (i = 0; i + 8 <= ck.size + 8 && shown < 4; i += 8) {
		bool differs = i + 8 <= ck.size &&
			       memcmp(ck.media + i, ck.live + i, 8);

		if ((i / 4096 != page || i + 8 > ck.size) && nwords) {
			snprintf(msg, sizeof(msg), "flushcheck: %s %u: page %#" PRIx64
				 ": %" PRIu64 " non-durable words\n", tag, n,
				 page * 4096, nwords);
			qemu_plugin_outs(msg);
			shown++;
			nwords = 0;
		}
		if (differs) {
			page = i / 4096;
			nwords++;
		}
	}
	snprintf(name, sizeof(name), "%s-%u-r.img", tag, n);
	if (!err)
		err = write_image(name, mixed);
	/*
	 * @tail: also @tag-@n-t.img, where in each page the later half of
	 * the non-durable words reached the media and the earlier half did
	 * not (lines evicted out of order), e.g. a log cleared from its end.
	 */
	if (tail && !err) {
		uint64_t p;

		memcpy(mixed, ck.media, ck.size);
		for (p = 0; p < ck.size; p += 4096) {
			uint64_t dirty = 0, seen = 0;

			for (i = p; i < p + 4096 && i + 8 <= ck.size; i += 8)
				dirty += !!memcmp(ck.media + i, ck.live + i, 8);
			for (i = p; i < p + 4096 && i + 8 <= ck.size; i += 8)
				if (memcmp(ck.media + i, ck.live + i, 8) &&
				    ++seen > dirty / 2)
					memcpy(mixed + i, ck.live + i, 8);
		}
		snprintf(name, sizeof(name), "%s-%u-t.img", tag, n);
		err = write_image(name, mixed);
	}
	g_free(mixed);
	snprintf(msg, sizeof(msg),
		 "flushcheck: %s %u: %" PRIu64 " non-durable words (%" PRIu64
		 " kept in the -r image)%s%s\n", tag, n, words, taken,
		 err ? ": write failed: " : "", err ? strerror(-err) : "");
	qemu_plugin_outs(msg);
}

/* crashload's marker: what it printed just before is the record. */
static void on_point(unsigned int vcpu, void *udata)
{
	(void)vcpu;
	(void)udata;
	pthread_mutex_lock(&ck.lock);
	ck.points++;
	if (ck.points % ck.every == 0 && ck.dumped < ck.max) {
		ck.dumped++;
		dump("point", ck.points, false);
	}
	pthread_mutex_unlock(&ck.lock);
}

/*
 * Marker @udata (its position, 1-9) inside pasted's checkpoint. Its record
 * lies between crashload's last point and its next one, which is what the
 * runner checks; so only marks after crashload's first point are written,
 * at position checkpoint-at= if given, else every "every" marks.
 */
static void on_checkpoint_mark(unsigned int vcpu, void *udata)
{
	unsigned int pos = (uintptr_t)udata;
	char msg[128];

	(void)vcpu;
	pthread_mutex_lock(&ck.lock);
	ck.ckpt_marks++;
	if (ck.points && ck.ckpt_dumped < ck.ckpt_max &&
	    (ck.ckpt_at ? pos == ck.ckpt_at : ck.ckpt_marks % ck.every == 0)) {
		ck.ckpt_dumped++;
		snprintf(msg, sizeof(msg), "flushcheck: checkpoint %u (mark %u) after point %u\n",
			 ck.ckpt_marks, pos, ck.points);
		qemu_plugin_outs(msg);
		dump("checkpoint", ck.ckpt_marks, true);
	}
	pthread_mutex_unlock(&ck.lock);
}

/* ------------------------------------------------------------ set-up */

static void on_tb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	size_t i, n = qemu_plugin_tb_n_insns(tb);

	(void)id;
	for (i = 0; i < n; i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
		uint8_t b[16];
		size_t len = qemu_plugin_insn_data(insn, b, sizeof(b));
		uint64_t u = classify(b, len);
		bool kernel = qemu_plugin_insn_vaddr(insn) >> 63;
		char *dis;

		switch (u & 15) {
		case K_CLWB:
		case K_CLFLUSH:
			if (kernel)
				u |= KERNEL_INSN;
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_flush,
				QEMU_PLUGIN_CB_R_REGS, (void *)(uintptr_t)u);
			continue;
		case K_FENCE:
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_fence,
				QEMU_PLUGIN_CB_NO_REGS, NULL);
			continue;
		case K_POINT:
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_point,
				QEMU_PLUGIN_CB_NO_REGS, NULL);
			continue;
		case K_CHECKPOINT:
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_checkpoint_mark,
				QEMU_PLUGIN_CB_NO_REGS, (void *)(uintptr_t)(u >> 4));
			continue;
		}
		/* Non-temporal stores: movnti, movntdq, movntps/pd, vmovnt*. */
		dis = qemu_plugin_insn_disas(insn);
		if (dis && (g_str_has_prefix(dis, "movnt") ||
			    g_str_has_prefix(dis, "vmovnt")))
			qemu_plugin_register_vcpu_mem_cb(insn, on_nt_store,
				QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_W,
				kernel ? (void *)1 : NULL);
		else if (dis && kernel && is_locked(dis))
			qemu_plugin_register_vcpu_insn_exec_cb(insn, on_locked,
				QEMU_PLUGIN_CB_NO_REGS, NULL);
		g_free(dis);
	}
}

static void on_vcpu_init(qemu_plugin_id_t id, unsigned int vcpu)
{
	static const char *const gpr[16] = {
		"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
	};
	struct vcpu *v = &ck.cpu[vcpu % MAX_VCPUS];
	g_autoptr(GArray) regs = qemu_plugin_get_registers();
	guint i;
	int k;

	(void)id;
	v->buf = g_byte_array_new();
	for (i = 0; regs && i < regs->len; i++) {
		qemu_plugin_reg_descriptor *d =
			&g_array_index(regs, qemu_plugin_reg_descriptor, i);

		for (k = 0; k < 16; k++)
			if (!strcmp(d->name, gpr[k]))
				v->gpr[k] = d->handle;
		if (!strcmp(d->name, "cr3"))
			v->cr3 = d->handle;
		else if (!strcmp(d->name, "cr4"))
			v->cr4 = d->handle;
		else if (!strcmp(d->name, "fs_base"))
			v->fs_base = d->handle;
		else if (!strcmp(d->name, "gs_base"))
			v->gs_base = d->handle;
	}
	if (!v->cr3 || !v->gpr[0])
		qemu_plugin_outs("flushcheck: no cr3/rax register handles\n");
}

static void on_plugin_exit(qemu_plugin_id_t id, void *udata)
{
	char msg[512];

	(void)id;
	(void)udata;
	snprintf(msg, sizeof(msg),
		 "flushcheck: totals points:%u dumped:%u flushes:%" PRIu64
		 " nt_stores:%" PRIu64 " fences:%" PRIu64 " kernel_locked:%" PRIu64
		 " unresolved:%" PRIu64 " mismatches:%" PRIu64 "\n", ck.points,
		 ck.dumped, ck.flushes, ck.nt_stores, ck.fences, ck.locked,
		 ck.unresolved, ck.mismatches);
	qemu_plugin_outs(msg);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id,
					   const qemu_info_t *info,
					   int argc, char **argv)
{
	const char *img = NULL;
	ssize_t got;
	int i, fd;

	for (i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		const char *val = eq ? eq + 1 : "";
		size_t klen = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);

#define ARG(name) (klen == strlen(name) && !strncmp(argv[i], name, klen))
		if (ARG("img"))
			img = val;
		else if (ARG("out"))
			ck.out = val;
		else if (ARG("base"))
			ck.base = strtoull(val, NULL, 0);
		else if (ARG("size"))
			ck.size = strtoull(val, NULL, 0);
		else if (ARG("every"))
			ck.every = strtoul(val, NULL, 0);
		else if (ARG("checkpoints"))
			ck.ckpt_max = strtoul(val, NULL, 0);
		else if (ARG("checkpoint-at"))
			ck.ckpt_at = strtoul(val, NULL, 0);
		else if (ARG("max"))
			ck.max = strtoul(val, NULL, 0);
		else if (ARG("seed"))
			ck.rng = strtoull(val, NULL, 0) | 1;
		else if (ARG("physmap"))
			ck.physmap = strtoull(val, NULL, 0);
		else {
			fprintf(stderr, "flushcheck: unknown argument %s\n", argv[i]);
			return -1;
		}
#undef ARG
	}
	if (!img || !ck.out || !ck.size || !ck.every || !info->system_emulation) {
		fprintf(stderr, "flushcheck: needs img=, out=, size= (system mode)\n");
		return -1;
	}
	/* The backing file as QEMU maps it (share=on): the live contents. */
	fd = open(img, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("flushcheck: img");
		return -1;
	}
	ck.live = mmap(NULL, ck.size, PROT_READ, MAP_SHARED, fd, 0);
	ck.media = g_malloc(ck.size);
	got = pread(fd, ck.media, ck.size, 0);
	close(fd);
	if (ck.live == MAP_FAILED || got != (ssize_t)ck.size) {
		fprintf(stderr, "flushcheck: cannot map %s\n", img);
		return -1;
	}
	qemu_plugin_register_vcpu_init_cb(id, on_vcpu_init);
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
	qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
	return 0;
}
