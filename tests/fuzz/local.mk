# tests/fuzz/local.mk — fuzz harnesses of hostile input: replayed by make check (gcc), fuzzed by libFuzzer (clang) in make check for a few seconds and in make fuzz for as long as asked.

# Each harness replays its inputs when built with -DFUZZ_STANDALONE; it links
# the whole VMM library (every module registered, as in vmm/vmm).
FUZZ_HARNESSES = hypercall elf
EXTRA_DIST += tests/fuzz/fuzz_hypercall.c tests/fuzz/fuzz_elf.c tests/fuzz/fuzz.sh
check_PROGRAMS += tests/fuzz/fuzz_hypercall tests/fuzz/fuzz_elf
FUZZ_CFLAGS = $(AM_CFLAGS) $(LIBELF_CFLAGS) $(LIBSECCOMP_CFLAGS) $(SAN_CFLAGS) -DFUZZ_STANDALONE
# Whole archive: every module's VMM_MODULE() entry, as in vmm/vmm.
FUZZ_LINK_FLAGS = $(SAN_CFLAGS) -Wl,--whole-archive,vmm/libvmm-test.a,--no-whole-archive
FUZZ_LDADD = $(LIBELF_LIBS) $(LIBSECCOMP_LIBS) -lm -lpthread
tests_fuzz_fuzz_hypercall_SOURCES = tests/fuzz/fuzz_hypercall.c
tests_fuzz_fuzz_hypercall_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_hypercall_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_hypercall_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_hypercall_DEPENDENCIES = vmm/libvmm-test.a
tests_fuzz_fuzz_elf_SOURCES = tests/fuzz/fuzz_elf.c
tests_fuzz_fuzz_elf_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_elf_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_elf_LDFLAGS = $(FUZZ_LINK_FLAGS)
tests_fuzz_fuzz_elf_DEPENDENCIES = vmm/libvmm-test.a

# The libFuzzer builds: every VMM source compiled by clang with the fuzzer's
# coverage and ASan/UBSan (not Automake objects: another compiler, other flags).
FUZZ_LF = tests/fuzz/fuzz_hypercall-lf tests/fuzz/fuzz_elf-lf
FUZZLF_SRCS = $(filter %.c,$(VMM_LIB_SOURCES))
FUZZ_LF_FLAGS = -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Wno-gnu-variable-sized-type-not-at-end -I$(top_srcdir)/include -I$(top_srcdir)/vmm -I$(top_builddir)
# vmm/html_page.c is generated in the build tree (vmm/local.mk).
tests/fuzz/%-lf: $(top_srcdir)/tests/fuzz/%.c $(FUZZLF_SRCS:%=$(top_srcdir)/%) vmm/html_page.c
	@mkdir -p tests/fuzz
	$(AM_V_CC)$(CLANG) $(FUZZ_LF_FLAGS) -o $@ $< $(FUZZLF_SRCS:%=$(top_srcdir)/%) vmm/html_page.c $(LIBELF_LIBS) $(LIBSECCOMP_LIBS) -lm -lpthread
CLEANFILES += $(FUZZ_LF)
if HAVE_LIBFUZZER
check_DATA += $(FUZZ_LF)
endif

# make check: replay the seeds, then (with libFuzzer) fuzz each harness for
# FUZZ_SECONDS.  make fuzz: the same, FUZZ_SECONDS=600 by default, keeping
# what it finds in fuzz-corpus/HARNESS.
TESTS += tests/fuzz/fuzz.sh
FUZZ_SECONDS_CHECK = 15
fuzz: all $(FUZZ_LF) tests/fuzz/fuzz_hypercall tests/fuzz/fuzz_elf
	FUZZ_SECONDS=$${FUZZ_SECONDS:-600} FUZZ_CORPUS='$(abs_top_builddir)/fuzz-corpus' \
	  TOP_BUILDDIR='$(abs_top_builddir)' TOP_SRCDIR='$(abs_top_srcdir)' CLANG='$(CLANG)' \
	  $(SHELL) $(top_srcdir)/tests/fuzz/fuzz.sh
.PHONY: fuzz
