# vmm/local.mk — the VMM binary.
bin_PROGRAMS += vmm/vmm
vmm_vmm_SOURCES = vmm/main.c vmm/guest_mem.c vmm/vmm.h
vmm_vmm_CPPFLAGS = $(AM_CPPFLAGS) -DPKGLIBDIR='"$(pkglibdir)"'
vmm_vmm_CFLAGS = $(AM_CFLAGS) $(LIBELF_CFLAGS)
vmm_vmm_LDADD = $(LIBELF_LIBS)
