/* guest/kernel/trap.c — the IDT and trap dispatch: page faults, user exceptions as signals, everything else a crash report. */
#include "kernel.h"
#include "cowvmm/names.h"
#include "cpu.h"
#include "kbench.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

struct idt_gate {
	uint16_t off0, sel;
	uint8_t ist, type;
	uint16_t off1;
	uint32_t off2, zero;
} __attribute__((packed));

/* One IDT for every CPU: built once by the boot CPU, loaded by each. */
static struct idt_gate idt[256];
extern uint64_t vectors[256];
extern char spurious_interrupt[];

void idt_init(void)
{
	for (int v = 0; v < 256; v++) {
		/* The local APIC's spurious vector (only ever raised with several
		 * CPUs, apic.c) needs no EOI and no trap frame: a bare iretq. */
		uint64_t h = v == APIC_SPURIOUS_VECTOR ? (uint64_t)spurious_interrupt : vectors[v];
		idt[v].off0 = h & 0xffff;
		idt[v].sel = X86_SEL_KCODE;
		idt[v].ist = v == X86_VEC_DF ? 1 : v == X86_VEC_NMI ? 2 : 0;
		/* interrupt gate (IF cleared on entry); int3 callable from user */
		idt[v].type = v == X86_VEC_BP ? 0xee : 0x8e;
		idt[v].off1 = (h >> 16) & 0xffff;
		idt[v].off2 = h >> 32;
		idt[v].zero = 0;
	}
}

void idt_load(void)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) p = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

static void regs_from_tf(struct cowvmm_regs *r, const struct trapframe *tf)
{
	r->rax = tf->rax; r->rbx = tf->rbx; r->rcx = tf->rcx; r->rdx = tf->rdx;
	r->rsi = tf->rsi; r->rdi = tf->rdi; r->rbp = tf->rbp;
	r->r8 = tf->r8; r->r9 = tf->r9; r->r10 = tf->r10; r->r11 = tf->r11;
	r->r12 = tf->r12; r->r13 = tf->r13; r->r14 = tf->r14; r->r15 = tf->r15;
	r->rip = tf->rip; r->rflags = tf->rflags; r->cs = tf->cs;
	/* the CPU always pushes SS:RSP in 64-bit mode */
	r->rsp = tf->rsp; r->ss = tf->ss;
	r->cr0 = read_cr0(); r->cr2 = read_cr2(); r->cr3 = read_cr3(); r->cr4 = read_cr4();
}

/* An exception the kernel cannot explain: hand the whole frame to the VMM. */
/* The process this CPU runs, for a crash report: no trust in GS.base. */
static struct proc *crash_proc(struct cpu *c)
{
	return c && mycpu_safe() == c ? c->proc : NULL;
}

/* An exception the kernel cannot explain: hand the whole frame to the VMM. */
_Noreturn static void crash_exception(const struct trapframe *tf)
{
	struct cpu *c = dying_cpu();
	struct cowvmm_hc_crash *crash = &c->hc_crash;
	struct proc *p = crash_proc(c);
	console_for_crash();
	memset(crash, 0, sizeof(*crash));
	crash->kind = COWVMM_CRASH_EXCEPTION;
	crash->vector = (uint32_t)tf->vector;
	crash->error_code = tf->error;
	/* the VMM's words for it; the string is in the image, so it has a GPA */
	const char *n = cowvmm_vector_name(crash->vector);
	crash->msg_gpa = virt_to_phys(n);
	crash->pid = p ? (uint64_t)p->pid : 0;
	regs_from_tf(&crash->regs, tf);
	kprintf("kernel: cpu %u: unhandled %s (vector %lu, error %#lx) at rip %#lx, cr2 %#lx\n",
		c->id, n, tf->vector, tf->error, tf->rip, crash->regs.cr2);
	hypercall(COWVMM_HC_CRASH, crash);
	halt_forever();
}

_Noreturn void panic_at(const char *file, int line, const char *fmt, ...)
{
	__asm__ volatile("cli" ::: "memory"); /* nothing more runs on this CPU */
	struct cpu *c = dying_cpu();
	struct cowvmm_hc_crash *crash = &c->hc_crash;
	struct proc *p = crash_proc(c);
	char *msg = c->panic_msg;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(c->panic_msg), fmt, ap);
	va_end(ap);
	console_for_crash();
	kprintf("kernel panic at %s:%d: %s\n", file, line, msg);
	memset(crash, 0, sizeof(*crash));
	crash->kind = COWVMM_CRASH_PANIC;
	crash->file_gpa = virt_to_phys(file);
	crash->msg_gpa = virt_to_phys(msg);
	crash->line = (uint64_t)line;
	crash->pid = p ? (uint64_t)p->pid : 0;
	/* where panic() was called from, on which stack */
	crash->regs.rip = (uint64_t)__builtin_return_address(0);
	crash->regs.rsp = (uint64_t)__builtin_frame_address(0);
	crash->regs.cs = X86_SEL_KCODE;
	crash->regs.ss = X86_SEL_KDATA;
	__asm__ volatile("pushfq; popq %0" : "=r"(crash->regs.rflags));
	crash->regs.cr0 = read_cr0(); crash->regs.cr2 = read_cr2();
	crash->regs.cr3 = read_cr3(); crash->regs.cr4 = read_cr4();
	hypercall(COWVMM_HC_CRASH, crash);
	halt_forever();
}

/*
 * A user-mode instruction fetch that faulted exactly at the SYSCALL entry
 * (RIP = CR2 = LSTAR) with IF clear: the CPU took `syscall` (FMASK cleared IF)
 * but stayed in ring 3, so the kernel entry's first fetch hit a supervisor
 * page.  A correct CPU cannot do that; a PVM-style host KVM does.  IF tells it
 * from a user program that merely jumps to that address (an ordinary
 * segfault): user code always runs with IF set (exec sets it, and ring 3 with
 * IOPL 0 cannot clear it).  Only called for a user fault the kernel would
 * otherwise kill the process for, so a correct host pays nothing.
 */
static int is_syscall_entered_in_ring3(const struct trapframe *tf, uint64_t va, uint32_t err)
{
	if ((err & (X86_PF_U | X86_PF_I)) != (X86_PF_U | X86_PF_I) || (tf->rflags & X86_RFLAGS_IF))
		return 0;
	uint64_t lstar = rdmsr(X86_MSR_LSTAR);
	return tf->rip == lstar && va == lstar;
}

/* Not the program's fault and not a kernel bug: tell the VMM this host's KVM
 * cannot run user mode (abi.h, COWVMM_CRASH_HOST_NO_USER_MODE). */
_Noreturn static void crash_host_no_user_mode(const struct trapframe *tf, uint32_t err)
{
	static const char msg[] = "the host's KVM entered the kernel's SYSCALL entry in ring 3: "
				  "this /dev/kvm cannot run user mode";
	struct cowvmm_hc_crash *crash = &mycpu()->hc_crash;
	memset(crash, 0, sizeof(*crash));
	crash->kind = COWVMM_CRASH_HOST_NO_USER_MODE;
	crash->vector = X86_VEC_PF;
	crash->error_code = err;
	crash->msg_gpa = virt_to_phys(msg);
	crash->pid = curproc ? (uint64_t)curproc->pid : 0;
	regs_from_tf(&crash->regs, tf);
	kprintf("kernel: pid %d (%s): instruction fetch fault at the SYSCALL entry %#lx (cs %#lx, error %#x): %s\n",
		curproc->pid, curproc->name, tf->rip, tf->cs, err, msg);
	hypercall(COWVMM_HC_CRASH, crash);
	halt_forever();
}

/* User-mode exceptions other than #PF end the process with the signal Linux sends. */
static const struct { uint8_t vector, sig; } user_signals[] = {
	{ X86_VEC_DE, 8 /* SIGFPE */ }, { X86_VEC_DB, 5 /* SIGTRAP */ }, { X86_VEC_BP, 5 /* SIGTRAP */ },
	{ X86_VEC_OF, SIGSEGV }, { X86_VEC_BR, SIGSEGV }, { X86_VEC_UD, 4 /* SIGILL */ },
	{ X86_VEC_SS, SIGBUS }, { X86_VEC_GP, SIGSEGV }, { X86_VEC_MF, 8 /* SIGFPE */ },
	{ X86_VEC_AC, SIGBUS }, { X86_VEC_XM, 8 /* SIGFPE */ },
};

/* A page fault in kernel mode. */
static __attribute__((noinline)) void kernel_page_fault(struct trapframe *tf, uint64_t va, uint32_t err)
{
	/* Only the user-copy routine may touch user memory: resolve the fault
	 * as if the process had made the access (so a kernel write into a COW
	 * page breaks COW), or make the copy return -EFAULT. */
	if (curproc && tf->rip >= (uint64_t)copy_user_begin && tf->rip < (uint64_t)copy_user_end &&
	    va < USER_TOP) {
		int r = handle_mm_fault(curproc, va, err | X86_PF_U);
		if (r == FAULT_OK)
			return;
		if (r == FAULT_OOM) {
			STAT_INC(oom_kills);
			kill_proc(curproc, SIGKILL);
		}
		tf->rip = (uint64_t)copy_user_fixup;
		return;
	}
	crash_exception(tf);
}

/* A user page fault the kernel could not resolve (r: FAULT_OOM or SEGV). */
static __attribute__((noinline)) void user_fault_failed(struct trapframe *tf, uint64_t va, int r)
{
	uint32_t err = (uint32_t)tf->error;
	if (r == FAULT_OOM) {
		kprintf("kernel: pid %d (%s): out of memory at %#lx: killed\n", curproc->pid, curproc->name, va);
		STAT_INC(oom_kills);
		kill_proc(curproc, SIGKILL);
		return;
	}
	if (is_syscall_entered_in_ring3(tf, va, err))
		crash_host_no_user_mode(tf, err);
	kprintf("kernel: pid %d (%s): segfault at %#lx rip %#lx error %#x\n", curproc->pid, curproc->name, va, tf->rip, err);
	STAT_INC(segv_kills);
	kill_proc(curproc, SIGSEGV);
}

/* The kernel-mode fault and the failures out of line: trap_pf keeps only
 * the frame, the address and the bench mark across handle_mm_fault. */
static inline __attribute__((always_inline)) void page_fault(struct trapframe *tf, int user)
{
	uint64_t va = read_cr2();
	uint32_t err = (uint32_t)tf->error;

	if (__builtin_expect(!user, 0)) {
		kernel_page_fault(tf, va, err);
		return;
	}
	int r = handle_mm_fault(curproc, va, err);
	if (__builtin_expect(r != FAULT_OK, 0))
		user_fault_failed(tf, va, r);
}

/* The APIC's interrupts: none of them takes a lock (spinlock.h). */
static void interrupt(struct trapframe *tf, int user)
{
	switch (tf->vector) {
	case TIMER_VECTOR:
		STAT_INC(timer_ticks);
		apic_eoi();
		/* Preempt user code only: the kernel is not preemptible.  And
		 * only for someone else (sched_tick). */
		if (user && curproc && sched_tick())
			STAT_INC(preemptions);
		break;
	case IPI_SHOOTDOWN_VECTOR:
		tlb_shootdown_interrupt();
		break;
	case IPI_RESCHED_VECTOR:
		/* A wake-up for an idle CPU, or a kick into the kernel for a
		 * process that was killed: return_to_user_checks acts on it. */
		apic_eoi();
		break;
	default:
		/* No device interrupts are configured; a stray one is ignored
		 * (an EOI in case the APIC delivered it). */
		if (have_apic)
			apic_eoi();
		break;
	}
}

/*
 * Page faults: their own entry (trapasm.S, alltraps_pf), the one trap on a
 * hot path (every COW break).  The same steps as trap() took for vector 14:
 * interrupts back on if they were, the handler, the return-to-user checks.
 */
void trap_pf(struct trapframe *tf)
{
	int user = (tf->cs & 3) == 3;
	/* A fault where interrupts were on keeps them on while it is handled
	 * (it may wait for a lock, whose holder may wait for our
	 * TLB-shootdown acknowledgement); trapret turns them off again. */
	if (__builtin_expect((tf->rflags & X86_RFLAGS_IF) != 0, 1))
		__asm__ volatile("sti" ::: "memory");
	struct kbench_mark bm; /* bench: handler entry -> exit, when armed (kbench.h) */
	kbench_enter(&bm);
	page_fault(tf, user);
	kbench_exit(&bm);
	if (user)
		return_to_user_checks(tf);
}

void trap(struct trapframe *tf)
{
	int user = (tf->cs & 3) == 3;

	if (tf->vector == X86_VEC_NMI) {
		/* Nothing here raises NMIs but the VMM's fault injection: an NMI
		 * carries no request, so count it and resume whatever it hit
		 * (user or kernel); iretq re-enables NMI delivery.  It may hit
		 * the syscall entry before its swapgs: no mycpu() here. */
		STAT_INC(nmis);
		return;
	}
	if (tf->vector >= X86_NR_EXCEPTIONS) {
		interrupt(tf, user);
		if (user)
			return_to_user_checks(tf);
		return;
	}
	if (tf->vector == X86_VEC_PF) {
		trap_pf(tf); /* not reached: vector 14 has its own entry */
		return;
	}
	/* As for a page fault (trap_pf): interrupts back on if they were. */
	if (tf->rflags & X86_RFLAGS_IF)
		__asm__ volatile("sti" ::: "memory");
	if (user && curproc) {
		int sig = SIGSEGV;
		for (size_t i = 0; i < ARRAY_SIZE(user_signals); i++)
			if (user_signals[i].vector == tf->vector)
				sig = user_signals[i].sig;
		kprintf("kernel: pid %d (%s): exception %lu at rip %#lx: signal %d\n", curproc->pid, curproc->name, tf->vector, tf->rip, sig);
		if (sig == SIGSEGV)
			STAT_INC(segv_kills);
		kill_proc(curproc, sig);
	} else {
		crash_exception(tf);
	}
	if (user)
		return_to_user_checks(tf);
}
