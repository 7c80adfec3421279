/* guest/kernel/cpu.c — the per-CPU table, and cpu_init: one CPU's registers brought to the kernel's state, the same code on every CPU. */
#include "kernel.h"
#include "cpu.h"
#include "x86.h"

/* CPU 0 needs its trap stacks before the frame allocator exists, so they are
 * in the image, as they always were.  The other CPUs get theirs from the
 * allocator when they are started (smp.c): a one-CPU run, and a 4 MiB VM,
 * pay nothing for CPUs they do not have. */
static uint8_t cpu0_df_stack[CPU_STACK_SIZE] __attribute__((aligned(16)));
static uint8_t cpu0_nmi_stack[CPU_STACK_SIZE] __attribute__((aligned(16)));
extern uint8_t boot_stack_top[];

_Static_assert(offsetof(struct cpu, self) == CPU_OFF_SELF &&
	       offsetof(struct cpu, syscall_rsp) == CPU_OFF_SYSCALL_RSP &&
	       offsetof(struct cpu, user_rsp) == CPU_OFF_USER_RSP, "trapasm.S's struct cpu offsets");
_Static_assert(offsetof(struct cpu, id) == CPU_OFF_ID && offsetof(struct cpu, nlocks) == CPU_OFF_NLOCKS &&
	       offsetof(struct cpu, fault_ev) == CPU_OFF_FAULT_EV,
	       "spinlock.h's struct cpu offsets");

/* The kernel's GS.base and the one `swapgs` gives user mode. */
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u

struct cpu cpus[COWVMM_MAX_CPUS] = {
	[0] = {
		.id = 0,
		.df_stack_top = cpu0_df_stack + sizeof(cpu0_df_stack),
		.nmi_stack_top = cpu0_nmi_stack + sizeof(cpu0_nmi_stack),
		.kstack_top = boot_stack_top,
	},
};
unsigned ncpus = 1; /* until smp_init() reads boot_info.ncpus */

/* Whatever state the VMM left (the boot CPU's or HC_CPU_START's, which
 * happen to be alike), leave this CPU in the one the kernel relies on. */
void cpu_init(struct cpu *c)
{
	/* WP: supervisor writes honour read-only PTEs, so the kernel's own
	 * writes to user COW pages fault and get copied.  FPU/SSE on for users. */
	write_cr0((read_cr0() | X86_CR0_WP | X86_CR0_MP) & ~(X86_CR0_EM | X86_CR0_TS));
	write_cr4(read_cr4() | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT);
	__asm__ volatile("fninit");
	/* NX when the CPU has it: the kernel's page tables mark data pages
	 * (user, kernel stacks) no-execute (vm.c), on every CPU alike. */
	if (cpu_has_nx())
		wrmsr(X86_MSR_EFER, rdmsr(X86_MSR_EFER) | X86_EFER_NXE);
	gdt_init(c);
	/* After gdt_init: loading a null GS selector may clear GS.base. */
	c->self = c;
	wrmsr(MSR_GS_BASE, (uint64_t)c);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
	idt_load();
	syscall_init();
}

void cpu_early(struct cpu *c)
{
	c->self = c;
	wrmsr(MSR_GS_BASE, (uint64_t)c);
}

struct cpu *mycpu_safe(void)
{
	uint64_t msrs[2] = { rdmsr(MSR_GS_BASE), rdmsr(MSR_KERNEL_GS_BASE) };
	for (int k = 0; k < 2; k++)
		for (unsigned i = 0; i < COWVMM_MAX_CPUS; i++)
			if (msrs[k] == (uint64_t)&cpus[i] && cpus[i].self == &cpus[i])
				return &cpus[i];
	return NULL;
}
