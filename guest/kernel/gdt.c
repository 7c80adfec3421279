/* guest/kernel/gdt.c — a CPU's own GDT and TSS: user segments, and the stacks the CPU takes on a trap from user mode and on #DF/NMI. */
#include "kernel.h"
#include "cpu.h"
#include "x86.h"

/* Selector layout (X86_SEL_*, cowvmm/x86.h) fixed by `syscall`/`sysret`
 * (STAR): kernel CS, kernel SS = CS+8; user SS = STAR[63:48]+8, user CS =
 * STAR[63:48]+16.  The slots below follow it. */

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

void tss_set_rsp0(struct cpu *c, uint64_t rsp0)
{
	c->tss.rsp[0] = rsp0;
}

/* The same code for every CPU: only the TSS (and so the TSS descriptor and
 * the IST stacks) differs from one CPU to the next. */
void gdt_init(struct cpu *c)
{
	uint64_t *gdt = c->gdt;
	uint64_t base = (uint64_t)&c->tss, limit = sizeof(c->tss) - 1;

	KASSERT(c->df_stack_top && c->nmi_stack_top);
	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffull; /* kernel code: L, P, DPL0, exec/read */
	gdt[2] = 0x00cf92000000ffffull; /* kernel data */
	gdt[3] = 0x00cff2000000ffffull; /* user data, DPL3 */
	gdt[4] = 0x00affa000000ffffull; /* user code, L, DPL3 */
	/* 64-bit TSS descriptor: two slots. */
	gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[6] = base >> 32;

	c->tss.iomap_base = sizeof(c->tss); /* no I/O bitmap: user port I/O faults */
	c->tss.ist[0] = (uint64_t)c->df_stack_top;
	c->tss.ist[1] = (uint64_t)c->nmi_stack_top;

	struct desc_ptr p = { sizeof(c->gdt) - 1, (uint64_t)gdt };
	__asm__ volatile(
		"lgdt %0\n\t"
		"mov %w1, %%ds\n\t"
		"mov %w1, %%es\n\t"
		"mov %w1, %%ss\n\t"
		"xor %%eax, %%eax\n\t"
		"mov %%ax, %%fs\n\t"
		"mov %%ax, %%gs\n\t"
		/* reload CS with a far return */
		"pushq %2\n\t"
		"lea 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"ltr %w3"
		: : "m"(p), "r"((uint64_t)X86_SEL_KDATA), "i"(X86_SEL_KCODE), "r"(X86_SEL_TSS) : "rax", "memory");
}

/* `syscall` entry: STAR selects segments, LSTAR the entry point, FMASK the
 * RFLAGS bits cleared on entry (no interrupts, no single-step, DF clear). */
void syscall_init(void)
{
	extern char syscall_entry[];
	wrmsr(X86_MSR_STAR, ((uint64_t)(X86_SEL_UDATA - 8) << 48) | ((uint64_t)X86_SEL_KCODE << 32));
	wrmsr(X86_MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(X86_MSR_FMASK, X86_RFLAGS_IF | X86_RFLAGS_TF | X86_RFLAGS_DF | X86_RFLAGS_AC);
	wrmsr(X86_MSR_EFER, rdmsr(X86_MSR_EFER) | X86_EFER_SCE);
}
