# tests/unit/local.mk — host unit tests, no KVM needed.

# Page-table walker and COW audit on synthetic guest memory (issue 4).
check_PROGRAMS += tests/unit/test-ptwalk
TESTS += tests/unit/test-ptwalk
EXTRA_DIST += tests/unit/fakeguest.h
tests_unit_test_ptwalk_SOURCES = tests/unit/test-ptwalk.c vmm/ptwalk.c vmm/guest_mem.c
tests_unit_test_ptwalk_CFLAGS = $(AM_CFLAGS) $(SAN_CFLAGS)
tests_unit_test_ptwalk_LDFLAGS = $(SAN_CFLAGS)
