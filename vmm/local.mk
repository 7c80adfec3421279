# vmm/local.mk — the VMM: a core that names no feature, and feature modules that register themselves.
bin_PROGRAMS += vmm/vmm

# The core: KVM, guest memory, kernel image, boot, run loop, exit and
# hypercall tables, watchdog, logging, the module registry.
VMM_CORE_SOURCES = vmm/vmm.h vmm/log.h vmm/log.c vmm/guest_mem.h vmm/guest_mem.c \
	vmm/elf_load.h vmm/elf_load.c vmm/kvm.c vmm/boot.c vmm/run.c vmm/hypercall.c \
	vmm/lifecycle.c vmm/cpu_start.c vmm/dump.c vmm/watchdog.c vmm/module.c vmm/world.h vmm/world.c
# Pure pieces every feature builds on: the page-table walker, the guest's books,
# the output files (written directly or by the helper the seccomp filter needs).
VMM_BASE_SOURCES = vmm/ptwalk.h vmm/ptwalk.c vmm/books.h vmm/books.c vmm/describe.c \
	vmm/outfile.h vmm/outfile.c
# Feature modules (each registers itself with VMM_MODULE()).
VMM_MODULE_SOURCES = vmm/books_hc.c vmm/probe.c \
	vmm/audit.h vmm/audit_int.h vmm/audit.c vmm/audit_cp.c vmm/audit_local.c vmm/audit_dirty.c \
	vmm/inspect.h vmm/inspect.c vmm/dirty.h vmm/dirty.c vmm/mutate.h vmm/mutate.c \
	vmm/ptdump.h vmm/ptdump.c vmm/dot.h vmm/dot.c vmm/report.h vmm/report.c \
	vmm/html.h vmm/html.c vmm/html_rec.c \
	vmm/explore.h vmm/explore.c vmm/explore_sched.c \
	vmm/inject.h vmm/inject.c vmm/inject_apply.c \
	vmm/bench.h vmm/bench.c vmm/bench_report.c vmm/bench_svg.c \
	vmm/sandbox.h vmm/sandbox.c
VMM_LIB_SOURCES = $(VMM_CORE_SOURCES) $(VMM_BASE_SOURCES) $(VMM_MODULE_SOURCES)

vmm_vmm_SOURCES = vmm/main.c $(VMM_LIB_SOURCES)
nodist_vmm_vmm_SOURCES = vmm/html_page.c
vmm_vmm_CPPFLAGS = $(AM_CPPFLAGS) -DPKGLIBDIR='"$(pkglibdir)"'
# --enable-sanitizers (CI) instruments the VMM itself too: every KVM batch
# then runs an ASan/UBSan/LeakSanitizer VMM against the guest.
vmm_vmm_CFLAGS = $(AM_CFLAGS) $(LIBELF_CFLAGS) $(LIBSECCOMP_CFLAGS) $(SAN_CFLAGS)
vmm_vmm_LDFLAGS = $(SAN_CFLAGS)
vmm_vmm_LDADD = $(LIBELF_LIBS) $(LIBSECCOMP_LIBS) -lm -lpthread

# The same objects, built with the sanitizers when configured, as one library
# that every unit test and fuzzer links (no KVM is touched unless called).
noinst_LIBRARIES += vmm/libvmm-test.a
vmm_libvmm_test_a_SOURCES = $(VMM_LIB_SOURCES)
nodist_vmm_libvmm_test_a_SOURCES = vmm/html_page.c
vmm_libvmm_test_a_CFLAGS = $(AM_CFLAGS) $(LIBELF_CFLAGS) $(LIBSECCOMP_CFLAGS) $(SAN_CFLAGS)

# --html's page: the template (CSS, markup, the drawing script) as two C
# strings around the run's data, generated at build time.
vmm/html_page.c: $(srcdir)/vmm/html_page.html $(srcdir)/tools/text2c.awk
	$(AM_V_GEN)$(MKDIR_P) vmm && $(AWK) -v head=html_page_head -v tail=html_page_tail \
	  -f $(srcdir)/tools/text2c.awk $(srcdir)/vmm/html_page.html >$@.tmp && mv $@.tmp $@
CLEANFILES += vmm/html_page.c
EXTRA_DIST += vmm/html_page.html tools/text2c.awk
