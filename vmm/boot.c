/* vmm/boot.c — start the vCPU directly in 64-bit long mode: GDT, page tables, registers, CPUID. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "cowvmm/x86.h"
#include "ptwalk.h"
#include "vmm.h"


#define SZ_2M (2ull << 20)
#define SZ_1G (1ull << 30)

/* Boot page-table pages, all inside [COWVMM_BOOT_PT_GPA, COWVMM_BOOT_PT_END). */
#define PML4_GPA      (COWVMM_BOOT_PT_GPA + 0x0000)
#define PDPT_DMAP_GPA (COWVMM_BOOT_PT_GPA + 0x1000)
#define PDPT_KERN_GPA (COWVMM_BOOT_PT_GPA + 0x2000)
#define PD_GPA(i)     (COWVMM_BOOT_PT_GPA + 0x3000 + (uint64_t)(i) * 0x1000)
/* RAM <= 3 GiB: three page directories of 2 MiB pages cover it. */
#define PD_MAX ((COWVMM_RAM_MAX + SZ_1G - 1) / SZ_1G)

_Static_assert(PD_GPA(PD_MAX) <= COWVMM_BOOT_PT_END, "boot page tables overflow their area");

static uint64_t *table(struct vm *vm, uint64_t gpa)
{
	uint64_t *t = gmem_ptr(&vm->mem, gpa, COWVMM_PAGE_SIZE);
	if (!t) {
		fprintf(stderr, "vmm: guest RAM too small for boot structures\n");
		exit(VMM_EXIT_USAGE);
	}
	memset(t, 0, COWVMM_PAGE_SIZE);
	return t;
}

/* Direct map of all RAM at COWVMM_DIRECT_MAP_BASE; the first min(RAM, 1 GiB)
 * again at COWVMM_KERNEL_BASE (sharing the first page directory).  2 MiB pages;
 * nothing in the lower half. */
static void build_page_tables(struct vm *vm)
{
	const uint64_t tbl = COWVMM_PTE_P | COWVMM_PTE_RW;
	uint64_t *pml4 = table(vm, PML4_GPA);
	uint64_t *pdpt_d = table(vm, PDPT_DMAP_GPA);
	uint64_t *pdpt_k = table(vm, PDPT_KERN_GPA);
	uint64_t npd = (vm->mem.size + SZ_1G - 1) / SZ_1G;

	for (uint64_t i = 0; i < npd; i++) {
		uint64_t *pd = table(vm, PD_GPA(i));
		for (unsigned j = 0; j < 512; j++) {
			uint64_t pa = i * SZ_1G + j * SZ_2M;
			if (pa + SZ_2M > vm->mem.size)
				break;
			pd[j] = pa | tbl | COWVMM_PTE_PS;
		}
		pdpt_d[ptw_index(COWVMM_DIRECT_MAP_BASE, 3) + i] = PD_GPA(i) | tbl;
	}
	pml4[ptw_index(COWVMM_DIRECT_MAP_BASE, 4)] = PDPT_DMAP_GPA | tbl;
	pml4[ptw_index(COWVMM_KERNEL_BASE, 4)] = PDPT_KERN_GPA | tbl;
	pdpt_k[ptw_index(COWVMM_KERNEL_BASE, 3)] = PD_GPA(0) | tbl;
}

static void build_gdt(struct vm *vm)
{
	uint64_t *gdt = gmem_ptr(&vm->mem, COWVMM_BOOT_GDT_GPA, 3 * sizeof(uint64_t));
	if (!gdt) {
		fprintf(stderr, "vmm: guest RAM too small for the GDT\n");
		exit(VMM_EXIT_USAGE);
	}
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffull; /* code: P, DPL0, S, type 0xb (accessed), L, G */
	gdt[2] = 0x00cf93000000ffffull; /* data: P, DPL0, S, type 0x3 (accessed), D/B, G */
}

static void set_sregs(struct vcpu *v)
{
	struct kvm_sregs s;
	KVM_CHECK(v->fd, KVM_GET_SREGS, &s, "vcpu %u", v->id);
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = X86_SEL_KCODE, .type = 0xb,
		.present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = {
		.base = 0, .limit = 0xffffffff, .selector = X86_SEL_KDATA, .type = 0x3,
		.present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	/* VM entry wants a usable busy 64-bit TSS in TR even if the guest never
	 * switches stacks through it; the kernel loads its own. */
	s.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = 0, .type = 0xb,
				     .present = 1, .s = 0 };
	s.ldt = (struct kvm_segment){ .type = 0x2, .present = 0, .unusable = 1 };
	/* GDTR holds a linear address and the lower half is unmapped: use the direct map. */
	s.gdt.base = COWVMM_DIRECT_MAP_BASE + COWVMM_BOOT_GDT_GPA;
	s.gdt.limit = 3 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr3 = PML4_GPA;
	s.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	s.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
	s.efer = X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE;
	vcpu_set_sregs(v, &s);
}

/* With the irqchip: each vCPU's x2APIC ID is its index (CPUID.1:EBX[31:24] and
 * the x2APIC topology leaves' EDX), and x2APIC is advertised (CPUID.1:ECX
 * bit 21): the guest talks to its LAPIC through MSRs, no MMIO page. */
static void set_apic_id(struct kvm_cpuid2 *c, unsigned id)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function == 1) {
			e->ecx |= 1u << 21;
			e->ebx = (e->ebx & 0x00ffffffu) | (uint32_t)id << 24;
		} else if (e->function == 0xb || e->function == 0x1f) {
			e->edx = id;
		}
	}
}

/* Give the guest what the host CPU and KVM support, unfiltered (with this
 * vCPU's x2APIC ID when it has a LAPIC). */
static void set_cpuid(struct vcpu *v)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		size_t sz = sizeof(struct kvm_cpuid2) + n * sizeof(struct kvm_cpuid_entry2);
		struct kvm_cpuid2 *c = calloc(1, sz);
		if (!c) {
			fprintf(stderr, "vmm: out of memory\n");
			exit(VMM_EXIT_NO_KVM);
		}
		c->nent = n;
		int r = kvm_try(v->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (r == -E2BIG) {
			free(c);
			continue;
		}
		if (r < 0) {
			fprintf(stderr, "vmm: ioctl KVM_GET_SUPPORTED_CPUID (nent %u) failed: %s\n", n,
				strerror(-r));
			exit(VMM_EXIT_NO_KVM);
		}
		if (v->vm->irqchip)
			set_apic_id(c, v->id);
		KVM_CHECK(v->fd, KVM_SET_CPUID2, c, "vcpu %u: %u entries", v->id, c->nent);
		free(c);
		return;
	}
	fprintf(stderr, "vmm: KVM_GET_SUPPORTED_CPUID wants more than 4096 entries\n");
	exit(VMM_EXIT_NO_KVM);
}

void boot_setup_memory(struct vm *vm)
{
	build_gdt(vm);
	build_page_tables(vm);
}

void boot_setup_vcpu(struct vcpu *v, uint64_t entry)
{
	set_cpuid(v);
	set_sregs(v);

	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	KVM_CHECK(v->fd, KVM_SET_FPU, &fpu, "vcpu %u: fcw 0x37f mxcsr 0x1f80", v->id);

	struct kvm_regs r = {
		.rip = entry,
		.rdi = COWVMM_BOOT_INFO_GPA,
		.rsi = COWVMM_BOOT_MAGIC,
		.rsp = 0,
		.rflags = X86_RFLAGS_FIXED, /* IF clear: no interrupts */
	};
	KVM_CHECK(v->fd, KVM_SET_REGS, &r, "vcpu %u: rip 0x%llx", v->id, (unsigned long long)entry);
	vcpu_forget_regs(v);
}

struct cowvmm_boot_info *boot_write_info(struct vm *vm)
{
	struct cowvmm_boot_info *bi = gmem_ptr(&vm->mem, COWVMM_BOOT_INFO_GPA, sizeof *bi);
	if (!bi) {
		fprintf(stderr, "vmm: guest RAM too small for the boot info\n");
		exit(VMM_EXIT_USAGE);
	}
	memset(bi, 0, sizeof *bi);
	bi->magic = COWVMM_BOOT_MAGIC;
	bi->abi_version = COWVMM_ABI_VERSION;
	bi->flags = vm->boot_flags;
	bi->ram_size = vm->mem.size;
	bi->kernel_end_gpa = vm->kernel.kernel_end_gpa;
	if (vm->cap.tsc_khz && vm->nvcpus) {
		int khz = kvm_try(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, NULL);
		bi->tsc_khz = khz > 0 ? (uint64_t)khz : 0;
	}
	bi->seed = vm->seed;
	bi->inject_gpa = 0;
	bi->ncpus = vm->nvcpus;
	snprintf(bi->cmdline, sizeof bi->cmdline, "%s", vm->cmdline);
	return bi;
}
