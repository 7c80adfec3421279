/* guest/kernel/cpu.h — one struct per CPU: its index, its own GDT and TSS, its trap and entry stacks, whether it is up. */
#ifndef GUEST_CPU_H
#define GUEST_CPU_H

/* Offsets the assembly entry code uses through %gs (trapasm.S): keep those
 * fields first and in this order (static assertions in cpu.c). */
#define CPU_OFF_SELF 0
#define CPU_OFF_SYSCALL_RSP 8
#define CPU_OFF_USER_RSP 16
/* Read by spinlock.h's inline fast paths straight through %gs. */
#define CPU_OFF_ID 24
#define CPU_OFF_NLOCKS 64
#define CPU_OFF_FAULT_EV 80 /* written by the fault path (fault.c) */

#ifndef __ASSEMBLER__
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

struct proc;
struct context;
struct mm;

/*
 * In the kernel, GS.base points at this CPU's struct cpu (mycpu(): one load);
 * in user mode it holds whatever the user left there, and the entry code
 * swaps them with `swapgs` (trapasm.S).  Fields are touched only by their own
 * CPU unless marked otherwise.
 */
struct cpu {
	struct cpu *self;     /* %gs:0 */
	uint64_t syscall_rsp; /* %gs:8: the running process's kernel stack top, for `syscall` */
	uint64_t user_rsp;    /* %gs:16: the user RSP, saved by the `syscall` entry */
	uint32_t id;          /* index in cpus[] = vCPU number = x2APIC ID */
	uint32_t online;      /* set by the CPU itself (atomic store) once it is up */
	struct proc *proc;    /* running on this CPU, NULL in the scheduler (sched.c) */
	struct context *sched_ctx; /* the scheduler loop's, switched to by sched() */
	struct mm *mm;        /* whose page tables CR3 holds (NULL: the kernel's) */
	int ncli;             /* depth of irq-off spinlocks held (spinlock.c) */
	int intena;           /* were interrupts on before the outermost one? */
	int nlocks;           /* spinlocks held, of either kind: sched() wants 1 */
	int idle;             /* halted in the scheduler (under sched_lock): kick_idle wakes it */
	struct proc *yielded; /* gave this CPU up by yielding: picked here last (sched.c) */
	uint32_t fault_ev;    /* the path the last page fault took (COWVMM_EV_*; kbench.h) */
	struct mm *deferred_flush_mm; /* kbug=putbeforeflush only: the late shootdown (fault.c) */
	uint64_t deferred_flush_va;
	uint8_t *df_stack_top;  /* IST1: a #DF still reports a kernel stack overflow */
	uint8_t *nmi_stack_top; /* IST2: an NMI can hit right after `syscall`, on the user RSP */
	uint8_t *kstack_top;    /* the scheduler's stack (CPU 0: boot_stack, entry.S) */
	/* Each CPU loads its own GDT: `ltr` marks the TSS descriptor busy, and
	 * the descriptor points at this CPU's TSS, so neither can be shared. */
	uint64_t gdt[GDT_ENTRIES];
	struct tss tss;
	/* Hypercall arguments must lie in the kernel image (the port carries a
	 * 32-bit GPA), and two CPUs may make the same hypercall at once: each
	 * CPU has its own (hypercall.c). */
	struct cowvmm_hc_inspect hc_inspect;
	struct cowvmm_hc_inject_point hc_inject;
	struct cowvmm_hc_crash hc_crash;
	struct cowvmm_hc_assert hc_assert;
	struct cowvmm_hc_exit hc_exit;
	struct cowvmm_hc_sched hc_sched;
	char panic_msg[COWVMM_STRING_MAX];
} __attribute__((aligned(64)));

/* cpus[0] is the bootstrap CPU; cpus[1 .. ncpus-1] are started by smp_init(). */
extern struct cpu cpus[COWVMM_MAX_CPUS];
extern unsigned ncpus;

/* This CPU's control registers, descriptor tables and SYSCALL MSRs: the same
 * state on every CPU, set by the same code (cpu.c). */
void cpu_init(struct cpu *c);
void cpu_early(struct cpu *c);                /* GS.base only: mycpu() works from here on */
void gdt_init(struct cpu *c);                 /* load c's GDT and TSS (gdt.c) */
void tss_set_rsp0(struct cpu *c, uint64_t rsp0);

/* The other CPUs (smp.c): start each one and wait until it is online.  Does
 * nothing with a single CPU. */
void smp_init(void);

/* This CPU: GS.base in the kernel (cpu_init) -- one load, valid anywhere in
 * the kernel after cpu_init, including interrupt handlers. */
static inline struct cpu *mycpu(void)
{
	struct cpu *c;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(c));
	return c;
}
/* This CPU's id and its spinlock count, straight through %gs (one
 * instruction each, no load of the struct cpu pointer first): the spinlock
 * fast paths (spinlock.h).  Volatile, like mycpu(): a process may resume on
 * another CPU after sleeping. */
static inline uint32_t this_cpu_id(void)
{
	uint32_t id;
	__asm__ volatile("movl %%gs:%c1, %0" : "=r"(id) : "i"(CPU_OFF_ID));
	return id;
}
/* This CPU's fault_ev (kbench.h), one store through %gs. */
static inline void this_cpu_set_fault_ev(uint32_t ev)
{
	__asm__ volatile("movl %0, %%gs:%c1" : : "ir"(ev), "i"(CPU_OFF_FAULT_EV) : "memory");
}
/* For crash reports, which may run with GS.base not (yet) the kernel's: read
 * the MSRs and accept only a pointer into cpus[].  NULL if neither is. */
struct cpu *mycpu_safe(void);

/*
 * The local APIC in x2APIC mode (apic.c), on every CPU when the VMM gave us
 * one (CPUID x2APIC: the in-kernel irqchip; it always does, but a VMM without
 * one still runs a single CPU, without timer).  Vectors: 0x20 the timer,
 * 0xf0 TLB shootdown, 0xf1 reschedule (wake an idle CPU, kick a running
 * process into the kernel), 0xff spurious.
 */
#define TIMER_VECTOR 0x20
#define IPI_SHOOTDOWN_VECTOR 0xf0
#define IPI_RESCHED_VECTOR 0xf1
#define APIC_SPURIOUS_VECTOR 0xff
/* The scheduler's time slice: the LAPIC timer's period.  10 ms, Linux's
 * HZ=100: long enough that a tick costs nothing measurable (one exit per
 * 10 ms per CPU), short enough that a spinning process shares its CPU within
 * a test's time.  Ticks interrupt user mode only to preempt it; the kernel
 * itself is not preemptible (as Linux without CONFIG_PREEMPT). */
#define TIMER_PERIOD_US 10000u
extern int have_apic;                     /* x2APIC present and enabled */
void x2apic_enable(struct cpu *c);        /* and start its timer */
void apic_eoi(void);
void apic_send_ipi(uint32_t cpu, uint8_t vector);

#endif /* __ASSEMBLER__ */
#endif
