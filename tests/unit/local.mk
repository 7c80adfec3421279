# tests/unit/local.mk — host unit tests, no KVM needed: each links the one VMM library (vmm/libvmm-test.a).
EXTRA_DIST += tests/unit/tap.h tests/unit/fakeguest.h tests/unit/simguest.h
UNIT_TESTS = tests/unit/test-ptwalk tests/unit/test-elf tests/unit/test-gmem tests/unit/test-describe \
	tests/unit/test-audit tests/unit/test-inject tests/unit/test-modules tests/unit/test-world \
	tests/unit/test-watchdog tests/unit/test-seccomp tests/unit/test-html tests/unit/test-explore tests/unit/test-gate
check_PROGRAMS += $(UNIT_TESTS)
TESTS += $(UNIT_TESTS)
UNIT_CFLAGS = $(AM_CFLAGS) $(LIBELF_CFLAGS) $(LIBSECCOMP_CFLAGS) $(SAN_CFLAGS)
UNIT_LDADD = vmm/libvmm-test.a $(LIBELF_LIBS) $(LIBSECCOMP_LIBS) -lm -lpthread

# Page-table walker and COW audit on synthetic guest memory.
tests_unit_test_ptwalk_SOURCES = tests/unit/test-ptwalk.c
tests_unit_test_audit_SOURCES = tests/unit/test-audit.c
# Foundation: ELF validation and loading, guest RAM bounds, descriptor checks.
tests_unit_test_elf_SOURCES = tests/unit/test-elf.c
tests_unit_test_gmem_SOURCES = tests/unit/test-gmem.c
tests_unit_test_describe_SOURCES = tests/unit/test-describe.c
# Fault injection: the --inject grammar and the plan page.
tests_unit_test_inject_SOURCES = tests/unit/test-inject.c
# The modules wired together through the hypercall table, without KVM.
tests_unit_test_modules_SOURCES = tests/unit/test-modules.c
# Stopping the world with real threads and fake vCPUs (no KVM).
tests_unit_test_world_SOURCES = tests/unit/test-world.c
# The watchdog thread: kicks at the deadline, ends an overrunning run.
tests_unit_test_watchdog_SOURCES = tests/unit/test-watchdog.c
# The seccomp filter in child processes: allowed calls return, others die of SIGSYS.
tests_unit_test_seccomp_SOURCES = tests/unit/test-seccomp.c
# vmm --html: the recording and the page writer on a simulated guest.
tests_unit_test_html_SOURCES = tests/unit/test-html.c
# --explore's strategies (PCT, random, replay) and the schedule string.
tests_unit_test_explore_SOURCES = tests/unit/test-explore.c
# The world's runner gate (--explore): one vCPU at a time, with real threads.
tests_unit_test_gate_SOURCES = tests/unit/test-gate.c

tests_unit_test_ptwalk_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_audit_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_elf_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_gmem_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_describe_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_inject_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_modules_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_world_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_watchdog_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_seccomp_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_html_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_explore_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_gate_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ptwalk_LDADD = $(UNIT_LDADD)
tests_unit_test_audit_LDADD = $(UNIT_LDADD)
tests_unit_test_elf_LDADD = $(UNIT_LDADD)
tests_unit_test_gmem_LDADD = $(UNIT_LDADD)
tests_unit_test_describe_LDADD = $(UNIT_LDADD)
tests_unit_test_inject_LDADD = $(UNIT_LDADD)
tests_unit_test_modules_LDADD = $(UNIT_LDADD)
tests_unit_test_world_LDADD = $(UNIT_LDADD)
tests_unit_test_watchdog_LDADD = $(UNIT_LDADD)
tests_unit_test_seccomp_LDADD = $(UNIT_LDADD)
tests_unit_test_html_LDADD = $(UNIT_LDADD)
tests_unit_test_explore_LDADD = $(UNIT_LDADD)
tests_unit_test_gate_LDADD = $(UNIT_LDADD)
tests_unit_test_ptwalk_LDFLAGS = $(SAN_CFLAGS)
tests_unit_test_audit_LDFLAGS = $(SAN_CFLAGS)
tests_unit_test_elf_LDFLAGS = $(SAN_CFLAGS)
tests_unit_test_gmem_LDFLAGS = $(SAN_CFLAGS)
tests_unit_test_describe_LDFLAGS = $(SAN_CFLAGS)
tests_unit_test_inject_LDFLAGS = $(SAN_CFLAGS)
tests_unit_test_modules_LDFLAGS = $(SAN_CFLAGS)
tests_unit_test_world_LDFLAGS = $(SAN_CFLAGS)
tests_unit_test_watchdog_LDFLAGS = $(SAN_CFLAGS)
tests_unit_test_seccomp_LDFLAGS = $(SAN_CFLAGS)

