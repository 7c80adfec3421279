# vmm/local.mk — the VMM binary.
bin_PROGRAMS += vmm/vmm
# Modules any unit test or fuzzer may link on their own (no KVM inside).
VMM_PURE_SOURCES = vmm/guest_mem.c vmm/elf_load.c vmm/describe.c
vmm_vmm_SOURCES = vmm/main.c vmm/vmm.h $(VMM_PURE_SOURCES) \
	vmm/kvm.c vmm/boot.c vmm/run.c vmm/hypercall.c vmm/dump.c vmm/watchdog.c vmm/probe.c
vmm_vmm_CPPFLAGS = $(AM_CPPFLAGS) -DPKGLIBDIR='"$(pkglibdir)"'
vmm_vmm_CFLAGS = $(AM_CFLAGS) $(LIBELF_CFLAGS)
vmm_vmm_LDADD = $(LIBELF_LIBS)
# Timing runs (--bench): collection, report, plots.
vmm_vmm_SOURCES += vmm/bench.c vmm/bench.h vmm/bench_report.c vmm/bench_svg.c
vmm_vmm_LDADD += -lm
# Fault injection (--inject): plan page, exceptions and PTE corruption.
vmm_vmm_SOURCES += vmm/inject.c vmm/inject.h vmm/inject_apply.c
# Page-table walker, COW audit at checkpoints, reports, dumps, pictures, mutations.
vmm_vmm_SOURCES += vmm/ptwalk.c vmm/audit.c vmm/audit_cp.c vmm/audit_local.c vmm/audit_dirty.c vmm/audit_int.h vmm/dirty.c vmm/inspect.c \
	vmm/report.c vmm/ptdump.c vmm/dot.c vmm/mutate.c
