# tests/kvm/local.mk — KVM test batches (one boot of the environment per batch).
# The batches run in this order (Automake's harness starts them in TESTS
# order, two at a time with make -j2): the longest first, so that no long
# one starts last and runs alone at the end.

# The VMM's COW audit: audited guest suite, mutations, report, dump, pictures.
TESTS += tests/kvm/audit.kvm
EXTRA_DIST += tests/kvm/audit.kvm

# Fault injection: --inject grammar, targeted injections, the bounded campaign (tools/campaign).
TESTS += tests/kvm/inject.kvm
EXTRA_DIST += tests/kvm/inject.kvm

# Several CPUs: the smp cases audited on 2 and 4 vCPUs, unaudited on 4, and the bug kernels they catch.
TESTS += tests/kvm/smp.kvm
EXTRA_DIST += tests/kvm/smp.kvm

# Schedule exploration: a COW race found by PCT, replayed, and the correct kernel clean.
TESTS += tests/kvm/explore.kvm
EXTRA_DIST += tests/kvm/explore.kvm

# The in-guest fork/COW suite (guest/user/tests: cowtest), group by group.
TESTS += tests/kvm/cow.kvm
EXTRA_DIST += tests/kvm/cow.kvm

# `make check-cpus4` (not part of make check): the whole cowtest suite, unaudited,
# on 4 vCPUs -- in the emulated environment 4 vCPUs share 2 CPUs, which is slow and
# worth running apart (tests/kvm/cow.kvm says why).  Same TAP as make check's batch.
check-cpus4: all
	COWTEST_CPUS=4 VMM='$(abs_top_builddir)/vmm/vmm' KERNEL='$(abs_top_builddir)/guest/kernel.elf' \
	  TOP_SRCDIR='$(abs_top_srcdir)' $(KVM_RUN) --smp 2 --timeout 3600 \
	  --probe '$(abs_top_builddir)/vmm/vmm --probe' -- $(SHELL) '$(abs_top_srcdir)/tests/kvm/cow.kvm'
.PHONY: check-cpus4

# Foundation: boot, console, exit statuses, crash reports, watchdog, image checks.
TESTS += tests/kvm/boot.kvm
EXTRA_DIST += tests/kvm/boot.kvm

# Timing run: coarse facts of a short vmm --bench (never exact timings).
TESTS += tests/kvm/bench.kvm
EXTRA_DIST += tests/kvm/bench.kvm

# The groups of cowtest cases that cow.kvm and audit.kvm both run (read by tests/lib.sh).
EXTRA_DIST += tests/kvm/cowtest-groups
