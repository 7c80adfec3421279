# tests/kvm/local.mk — KVM test batches (one boot of the environment per batch).

# Foundation: boot, console, exit statuses, crash reports, watchdog, image checks.
TESTS += tests/kvm/boot.kvm
EXTRA_DIST += tests/kvm/boot.kvm

# Timing run: coarse facts of a short vmm --bench (never exact timings).
TESTS += tests/kvm/bench.kvm
EXTRA_DIST += tests/kvm/bench.kvm

# The VMM's COW audit: audited guest suite, mutations, report, dump, pictures.
TESTS += tests/kvm/audit.kvm
EXTRA_DIST += tests/kvm/audit.kvm

# The in-guest fork/COW suite (guest/user/tests: cowtest), group by group.
TESTS += tests/kvm/cow.kvm
EXTRA_DIST += tests/kvm/cow.kvm

# Several CPUs: the smp cases audited on 2 and 4 vCPUs, and the bug kernels they catch.
TESTS += tests/kvm/smp.kvm
EXTRA_DIST += tests/kvm/smp.kvm

# Fault injection: --inject grammar, targeted injections, the bounded campaign (tools/campaign).
TESTS += tests/kvm/inject.kvm
EXTRA_DIST += tests/kvm/inject.kvm

# The groups of cowtest cases that cow.kvm and audit.kvm both run (read by tests/lib.sh).
EXTRA_DIST += tests/kvm/cowtest-groups
