# tests/local.mk — make check: host unit tests (TAP) and KVM batches (TAP, run via tools/kvm-run).

TEST_EXTENSIONS = .kvm .ring0
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
KVM_LOG_DRIVER = $(LOG_DRIVER)
# A KVM batch boots the emulated environment once (when /dev/kvm is unusable) and
# runs the whole batch script inside; its TAP output and status come back out.
# The emulated machine has one CPU unless the batch asks for more with a line
# "# kvm-run: --smp 2" (--batch): smp.kvm and cow.kvm do, so that the guest's
# vCPUs really run at once and the SMP cases meet real races (the bug kernels
# of smp.kvm are caught by them, not by luck of the time slicing).  The others
# run one vCPU, or one at a time (explore.kvm), and stay on one CPU: two
# batches of two emulated CPUs each on a 2-core host are what wedged the
# emulated machine most (tools/kvm-run's watcher).
# --retries 2: an emulated machine that wedges (QEMU 7.2's TCG with nested SVM
# sometimes leaves both CPUs stuck in its kernel) is stopped within a minute or
# two and the batch run again in a fresh one, with a "# kvm-run:" note in its
# TAP; a failure or hang of the batch itself is never retried.
KVM_LOG_COMPILER = $(SHELL) $(top_srcdir)/tools/kvm-run --tap --batch --retries 2 \
	--probe '$(abs_top_builddir)/vmm/vmm --probe' -- $(SHELL)

AM_TESTS_ENVIRONMENT = \
	VMM='$(abs_top_builddir)/vmm/vmm'; \
	KERNEL='$(abs_top_builddir)/guest/kernel.elf'; \
	TOP_SRCDIR='$(abs_top_srcdir)'; \
	TOP_BUILDDIR='$(abs_top_builddir)'; \
	HOSTILE='$(abs_top_builddir)/tests/hostile/hostile.elf'; \
	export VMM KERNEL TOP_SRCDIR TOP_BUILDDIR HOSTILE;

# Batches that need only ring 0 (the hostile kernel): their probe boots it,
# so a host KVM that cannot run ring 3 (this project's machines) runs them
# directly; elsewhere they go to the emulated environment like the others.
RING0_LOG_DRIVER = $(LOG_DRIVER)
RING0_LOG_COMPILER = $(SHELL) $(top_srcdir)/tools/kvm-run --tap --retries 2 \
	--probe '$(abs_top_builddir)/vmm/vmm --kernel $(abs_top_builddir)/tests/hostile/hostile.elf -q -- ok' -- $(SHELL)

# Shared helpers for the shell test batches.
EXTRA_DIST += tests/lib.sh

# KVM batches: see tests/kvm/local.mk.  First in TESTS: they are the longest.
include tests/kvm/local.mk

# tools/kvm-run itself: skip rules, direct mode, and one boot of the emulated mode.
TESTS += tests/kvm-run-selftest.sh
EXTRA_DIST += tests/kvm-run-selftest.sh

# vmm --html's page in headless Chromium, checked against --dump-pt at several checkpoints.
TESTS += tests/html-browser.sh
EXTRA_DIST += tests/html-browser.sh

# A newcomer's first run: vmm/vmm straight on this host's /dev/kvm, whatever it is.
TESTS += tests/first-run.sh
EXTRA_DIST += tests/first-run.sh

# Unit tests (no KVM): see tests/unit/local.mk.
include tests/unit/local.mk
# The hostile guest kernel and its batch: see tests/hostile/local.mk.
include tests/hostile/local.mk
# Fuzz harnesses (hostile input, no KVM): see tests/fuzz/local.mk.
include tests/fuzz/local.mk
