# SPDX-License-Identifier: GPL-2.0
#
# PASTE for Linux: build the patched 6.12 kernel, the user-space tools and
# the selftests, and run them in QEMU with an emulated NVDIMM.
#
#   make run      boot the patched kernel with pmem and show it working
#   make check    host unit tests, VM selftests, power cuts, flush checker
#
# See README.md for every target.

REPO       := $(CURDIR)
BUILD      := $(REPO)/build
KSRC       := $(BUILD)/linux
KTARBALL   := /usr/src/linux-source-6.12.tar.xz
JOBS       ?= $(shell nproc)
KMAKE       = $(MAKE) -s -C $(KSRC) O=$(BUILD)/obj-$(1) CC="ccache gcc" \
	      KBUILD_BUILD_USER=paste KBUILD_BUILD_HOST=paste -j$(JOBS)
ROOT_PREFIX := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build, the VM and the tests need.
DEB_PACKAGES := linux-source-6.12 build-essential flex bison bc libelf-dev \
	libssl-dev dwarves cpio xz-utils patch git ccache python3 perl \
	qemu-system-x86 qemu-utils ipxe-qemu seabios busybox-static \
	e2fsprogs iproute2 liburing-dev curl wrk python3-ply libglib2.0-dev \
	pkg-config rsync clang libclang-rt-14-dev gcc-multilib xfsprogs \
	python3-docutils mandoc openssl procps

# Kernel files of ours (new files and the series, selftests included).
KERNEL_INPUTS := $(shell find $(REPO)/net $(REPO)/fs $(REPO)/include \
	$(REPO)/selftests/paste $(REPO)/selftests/lib \
	$(REPO)/Documentation $(REPO)/patches -type f 2>/dev/null) $(REPO)/Kconfig

.PHONY: all deps tree kernel kernel-debug kernel-lean headers selftests tools \
	initramfs check check-full check-host check-vm check-oracle check-crash check-flush crashtest \
	redis initramfs-redis check-redis check-redis-suite bench-redis run-redis \
	flushcheck fuzz plugins run bench patchset install man iproute2 \
	checkpatch check-series clean distclean

all: kernel selftests

# ---------------------------------------------------------------- deps
deps: $(BUILD)/.deps
$(BUILD)/.deps: Makefile
	@mkdir -p $(BUILD)
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "  APT     $$missing"; \
		$(ROOT_PREFIX) env DEBIAN_FRONTEND=noninteractive apt-get -qq update && \
		$(ROOT_PREFIX) env DEBIAN_FRONTEND=noninteractive apt-get -qq -y \
			--no-install-recommends install $$missing > $(BUILD)/apt.log 2>&1 \
			|| { cat $(BUILD)/apt.log; exit 1; }; \
	fi
	@touch $@

# ---------------------------------------------------------------- kernel
tree: $(BUILD)/.tree
$(BUILD)/.tree: $(BUILD)/.deps $(KERNEL_INPUTS) scripts/prepare-tree.sh scripts/series-lib.sh
	@scripts/prepare-tree.sh $(REPO) $(KSRC) $(KTARBALL)
	@touch $@

# The stamp, not .config: kconfig.sh rewrites .config only when it changes.
$(BUILD)/obj-%/.config.stamp: $(BUILD)/.tree configs/base.config configs/%.config scripts/kconfig.sh
	@scripts/kconfig.sh $(KSRC) $(BUILD)/obj-$* configs/base.config configs/$*.config
	@touch $@

kernel: kernel-debug kernel-lean

kernel-debug kernel-lean: kernel-%: $(BUILD)/obj-%/.config.stamp
	@echo "  KBUILD  $* kernel"
	@$(call KMAKE,$*) bzImage
	@echo "  KERNEL  $(BUILD)/obj-$*/arch/x86/boot/bzImage"

headers: $(BUILD)/usr/include/linux/paste.h
$(BUILD)/usr/include/linux/paste.h: $(BUILD)/obj-debug/.config.stamp
	@$(call KMAKE,debug) headers_install INSTALL_HDR_PATH=$(BUILD)/usr > /dev/null
	@echo "  HEADERS $(BUILD)/usr/include"

# ---------------------------------------------------------------- user space
selftests: headers
	@$(MAKE) -s -C selftests BUILD=$(BUILD) KSRC=$(KSRC)

tools: headers
	@$(MAKE) -s -C tools BUILD=$(BUILD)

# ss that shows PASTE sockets (ss -i, ss --paste): Debian's iproute2 source
# with tools/iproute2/patches applied; only ss is built.
iproute2: $(BUILD)/.deps
	@tools/iproute2/build.sh $(REPO) $(BUILD)

# libpaste (libpaste.pc for pkg-config), its headers, pasted and the man
# pages: make install PREFIX=/usr/local DESTDIR=/staging.
install: headers man
	@$(MAKE) -s -C tools BUILD=$(BUILD) install $(if $(PREFIX),PREFIX=$(PREFIX)) DESTDIR=$(DESTDIR)

# paste(7), libpaste(3), pasted(8) and a page per libpaste function, from
# the reStructuredText and libpaste.h's kernel-doc (scripts/mkman.sh).
man: $(BUILD)/.deps
	@scripts/mkman.sh $(REPO) $(KSRC) $(BUILD)/man

initramfs: selftests tools iproute2
	@selftests/vm/mkinitramfs.sh $(BUILD)

# ---------------------------------------------------------------- tests
# make check: what catches the most for its minutes (under an hour on a
# fresh machine); make check-full: every power cut, every checker variant
# and the long tests, before an issue is resolved. A stage run on its own
# takes the level from CHECK_LEVEL (check or full). Stages joined by "+"
# run at the same time (scripts/check.sh).
CHECK_LEVEL ?= check
$(if $(filter check full,$(CHECK_LEVEL)),,$(error CHECK_LEVEL is check or full, not '$(CHECK_LEVEL)'))
CHECK_STAGES := check-host check-vm check-oracle+check-redis check-flush+check-crash
# What the VM stages boot. scripts/check.sh builds it once and sets
# CHECK_BUILT=1: two stages at once must not rebuild the same files.
VM_INPUTS := $(if $(CHECK_BUILT),,kernel-debug initramfs)
PLUGINS := $(if $(CHECK_BUILT),,plugins)
check:
	@scripts/check.sh $(BUILD) check $(CHECK_STAGES)
check-full:
	@scripts/check.sh $(BUILD) full $(CHECK_STAGES)

check-host: headers iproute2
	@$(MAKE) -s -C selftests BUILD=$(BUILD) KSRC=$(KSRC) check-host

# The libFuzzer targets for longer than check-host's 15 s each.
fuzz: headers
	@$(MAKE) -s -C selftests BUILD=$(BUILD) KSRC=$(KSRC) fuzz FUZZ_SECS=$${FUZZ_SECS:-600}

check-vm: $(VM_INPUTS)
	@selftests/vm/run-tests.sh $(BUILD) debug $(CHECK_LEVEL)

# Power cuts under load, on the debug kernel: 1 per persisting mode in make
# check, 3 (each recovery cut again) in make check-full; 20 in make
# crashtest, on the lean one.
CRASH_CUTS := $(if $(filter full,$(CHECK_LEVEL)),3,1)
check-crash: $(VM_INPUTS) $(if $(CHECK_BUILT),,initramfs-redis)
	@selftests/crash/run-crashtest.sh $(BUILD) debug $(CRASH_CUTS)

crashtest: kernel-lean initramfs initramfs-redis
	@selftests/crash/run-crashtest.sh $(BUILD) lean $${CUTS:-20}

# The flush-ordering checker: QEMU 10 from bookworm-backports, unpacked
# into build/qemu10, runs the plugin; the crash images boot on the system's
# QEMU. POINTS crash points per variant (2 in check-flush).
plugins: $(BUILD)/.deps
	@scripts/qemu-plugin-env.sh $(BUILD)
	@$(MAKE) -s -C selftests BUILD=$(BUILD) KSRC=$(KSRC) plugin
	@$(MAKE) -s -C tools BUILD=$(BUILD) bench-plugin

# Guest stores into the NVDIMM, counted by QEMU (insncount plugin), on the
# zero-copy path and on the copy path.
check-oracle: $(VM_INPUTS) $(PLUGINS)
	@selftests/vm/run-oracle.sh $(BUILD) debug

# make check traces the clean paste and zero-copy variants and one seeded
# bug, a different one each day (FLUSH_BUG=1..5 chooses); check-full all.
FLUSH_BUG ?= $(shell echo $$(($$(date +%s) / 86400 % 5 + 1)))
FLUSH_VARIANTS := $(if $(filter full,$(CHECK_LEVEL)),, \
	pasted pasted-zc pasted-bug$(patsubst 3,3-zc,$(FLUSH_BUG)) redis)
check-flush: $(VM_INPUTS) $(PLUGINS) $(if $(CHECK_BUILT),,initramfs-redis)
	@selftests/crash/run-flushcheck.sh $(BUILD) debug 2 $(FLUSH_VARIANTS)

flushcheck: kernel-lean initramfs plugins
	@$(MAKE) -s initramfs-redis REDIS_SEEDED=1
	@selftests/crash/run-flushcheck.sh $(BUILD) lean $${POINTS:-8}

run: kernel-lean initramfs
	@selftests/vm/run-demo.sh $(BUILD) lean

# Benchmarks print tables; they are never assertions. BENCH=full for the
# whole grid. gnuplot is only needed here.
bench: kernel-lean initramfs plugins
	@command -v gnuplot > /dev/null || $(ROOT_PREFIX) env DEBIAN_FRONTEND=noninteractive \
		apt-get -qq -y --no-install-recommends install gnuplot-nox > /dev/null
	@tools/bench/run-bench.sh $(BUILD)

# ---------------------------------------------------------------- redis
# Redis on PASTE (Documentation/paste/redis.rst): Debian's redis source,
# tools/redis/patches applied, linked with libpaste; REDIS_STOCK=1 builds
# the unpatched source too (the benchmark and the test-suite comparison),
# REDIS_SEEDED=1 the flush checker's seeded-bug build (check-full).
REDIS_STOCK ?= 1
REDIS_SEEDED ?= $(if $(filter full,$(CHECK_LEVEL)),1,0)
redis: tools
	@REDIS_STOCK=$(REDIS_STOCK) REDIS_SEEDED=$(REDIS_SEEDED) \
		tools/redis/build.sh $(REPO) $(BUILD)

initramfs-redis: initramfs redis
	@selftests/redis/mkinitramfs.sh $(BUILD)

# Redis's behaviours in paste mode, in the VM on the debug kernel.
check-redis: $(if $(CHECK_BUILT),,kernel-debug initramfs-redis)
	@selftests/redis/run-redis-tests.sh $(BUILD) debug $(CHECK_LEVEL)

# make run for Redis: Redis on PASTE under redis-benchmark, its counters,
# a crash and the recovery.
run-redis: kernel-lean initramfs-redis
	@selftests/redis/run-redis-demo.sh $(BUILD) lean

# Redis's own ./runtest, default configuration, stock and patched on the
# host (about 17 minutes each): no failure of ours that stock lacks.
check-redis-suite:
	@$(MAKE) -s redis REDIS_STOCK=1
	@tools/redis/run-suite.sh $(BUILD)

# redis-benchmark against stock Redis and Redis on PASTE: a table and a
# figure in build/bench-redis, never an assertion.
bench-redis: kernel-lean initramfs-redis plugins
	@command -v gnuplot > /dev/null || $(ROOT_PREFIX) env DEBIAN_FRONTEND=noninteractive \
		apt-get -qq -y --no-install-recommends install gnuplot-nox > /dev/null
	@tools/redis/run-bench.sh $(BUILD)

# ---------------------------------------------------------------- series
patchset: $(BUILD)/.tree
	@scripts/patchset.sh $(REPO) $(KSRC) $(BUILD)/patchset

checkpatch: $(BUILD)/.tree
	@scripts/checkpatch.sh $(REPO) $(KSRC)

# Every patch of the series builds (lean config) and passes checkpatch;
# about 40 minutes cold, so not part of make check.
check-series: $(BUILD)/.tree
	@scripts/series-build.sh $(REPO) $(KSRC) $(BUILD)

clean:
	rm -rf $(BUILD)/selftests $(BUILD)/initramfs* $(BUILD)/usr
	$(MAKE) -s -C selftests BUILD=$(BUILD) clean

distclean:
	rm -rf $(BUILD)
