# tests/unit/local.mk — host unit tests, no KVM needed.

# Page-table walker and COW audit on synthetic guest memory (issue 4).
check_PROGRAMS += tests/unit/test-ptwalk
TESTS += tests/unit/test-ptwalk
EXTRA_DIST += tests/unit/fakeguest.h
tests_unit_test_ptwalk_SOURCES = tests/unit/test-ptwalk.c vmm/ptwalk.c vmm/guest_mem.c
tests_unit_test_ptwalk_CFLAGS = $(AM_CFLAGS) $(SAN_CFLAGS)
tests_unit_test_ptwalk_LDFLAGS = $(SAN_CFLAGS)

# Foundation: ELF validation and loading, guest RAM bounds, descriptor checks.
EXTRA_DIST += tests/unit/tap.h
check_PROGRAMS += tests/unit/test-elf tests/unit/test-gmem tests/unit/test-describe
TESTS += tests/unit/test-elf tests/unit/test-gmem tests/unit/test-describe
tests_unit_test_elf_SOURCES = tests/unit/test-elf.c vmm/elf_load.c vmm/guest_mem.c
tests_unit_test_elf_CFLAGS = $(AM_CFLAGS) $(LIBELF_CFLAGS) $(SAN_CFLAGS)
tests_unit_test_elf_LDFLAGS = $(SAN_CFLAGS)
tests_unit_test_elf_LDADD = $(LIBELF_LIBS)
tests_unit_test_gmem_SOURCES = tests/unit/test-gmem.c vmm/guest_mem.c
tests_unit_test_gmem_CFLAGS = $(AM_CFLAGS) $(SAN_CFLAGS)
tests_unit_test_gmem_LDFLAGS = $(SAN_CFLAGS)
tests_unit_test_describe_SOURCES = tests/unit/test-describe.c vmm/describe.c
tests_unit_test_describe_CFLAGS = $(AM_CFLAGS) $(SAN_CFLAGS)
tests_unit_test_describe_LDFLAGS = $(SAN_CFLAGS)
# libFuzzer harness for the ELF validator (built by hand, see its header).
EXTRA_DIST += tests/fuzz/fuzz_elf.c
check_PROGRAMS += tests/unit/test-audit
TESTS += tests/unit/test-audit
tests_unit_test_audit_SOURCES = tests/unit/test-audit.c vmm/audit.c vmm/audit_cp.c vmm/audit_local.c vmm/audit_dirty.c vmm/audit_int.h \
	vmm/ptwalk.c vmm/guest_mem.c vmm/mutate.c vmm/ptdump.c vmm/dot.c
tests_unit_test_audit_CFLAGS = $(AM_CFLAGS) $(SAN_CFLAGS)
tests_unit_test_audit_LDFLAGS = $(SAN_CFLAGS)
# Fault injection (issue 5): the --inject grammar and the plan page.
check_PROGRAMS += tests/unit/test-inject
TESTS += tests/unit/test-inject
tests_unit_test_inject_SOURCES = tests/unit/test-inject.c vmm/inject.c vmm/inject.h vmm/guest_mem.c
tests_unit_test_inject_CFLAGS = $(AM_CFLAGS) $(SAN_CFLAGS)
tests_unit_test_inject_LDFLAGS = $(SAN_CFLAGS)
