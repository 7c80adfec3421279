/* guest/kernel/cpu.h — one struct per CPU: its index, its own GDT and TSS, its trap and entry stacks, whether it is up. */
#ifndef GUEST_CPU_H
#define GUEST_CPU_H

#include "kernel.h"

/* The 64-bit TSS: no task switching in long mode, only the stacks the CPU
 * loads on a privilege change (rsp[0]) and through an IDT gate's IST index. */
struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

/* null, kernel code, kernel data, user data, user code, TSS (two slots):
 * the X86_SEL_* layout of cowvmm/x86.h. */
#define GDT_ENTRIES 7

/* The IST stacks (#DF, NMI) and an AP's entry stack are one page each. */
#define CPU_STACK_SIZE PAGE_SIZE

struct cpu {
	uint32_t id;          /* index in cpus[] = vCPU number = x2APIC ID */
	uint32_t online;      /* set by the CPU itself (atomic store) once it is up */
	uint8_t *df_stack_top;  /* IST1: a #DF still reports a kernel stack overflow */
	uint8_t *nmi_stack_top; /* IST2: an NMI can hit right after `syscall`, on the user RSP */
	uint8_t *kstack_top;    /* the stack it started on (CPU 0: boot_stack, entry.S) */
	/* Each CPU loads its own GDT: `ltr` marks the TSS descriptor busy, and
	 * the descriptor points at this CPU's TSS, so neither can be shared. */
	uint64_t gdt[GDT_ENTRIES];
	struct tss tss;
};

/* cpus[0] is the bootstrap CPU; cpus[1 .. ncpus-1] are started by smp_init(). */
extern struct cpu cpus[COWVMM_MAX_CPUS];
extern unsigned ncpus;

/* This CPU's control registers, descriptor tables and SYSCALL MSRs: the same
 * state on every CPU, set by the same code (cpu.c). */
void cpu_init(struct cpu *c);
void gdt_init(struct cpu *c);                 /* load c's GDT and TSS (gdt.c) */
void tss_set_rsp0(struct cpu *c, uint64_t rsp0);

/* The other CPUs (smp.c): start each one and wait until it is online.  Does
 * nothing with a single CPU. */
void smp_init(void);

/* The local APIC in x2APIC mode (apic.c); only with several CPUs: a
 * one-CPU VM has no in-kernel irqchip, so no APIC MSRs at all. */
#define APIC_SPURIOUS_VECTOR 0xff
void x2apic_enable(struct cpu *c);

#endif
