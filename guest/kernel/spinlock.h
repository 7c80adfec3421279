/* guest/kernel/spinlock.h — spinlocks, the two kinds, and the kernel's lock order. */
#ifndef GUEST_SPINLOCK_H
#define GUEST_SPINLOCK_H

#include "kernel.h"
#include "cpu.h" /* mycpu() for the inline fast paths */

/*
 * Two kinds, as Linux has spin_lock and spin_lock_irq:
 *
 *  - spin_lock: interrupts stay as they are.  Every lock but one is of this
 *    kind, so a CPU that waits for one can still take a TLB-shootdown IPI:
 *    CPU A holding mm->lock waits for CPU B's acknowledgement while B spins
 *    on mm->lock -- with interrupts off that would be a deadlock.
 *  - spin_lock_irq: interrupts off while held (xv6's pushcli/popcli, nested).
 *    Only sched_lock, which is held across the context switch.
 *
 * Lock order (take them top to bottom; never wait for a shootdown
 * acknowledgement -- tlb.c -- while holding an irq-off lock):
 *
 *   exec_lock                       the exec argument buffers (sysproc.c)
 *   mm->lock                        one per address space: regions and page
 *                                   tables (Linux's mmap_lock and PTL in one);
 *                                   shootdowns wait under it
 *   pipe->lock                      one per pipe
 *   file_lock                       open files and fd tables
 *   sched_lock   (irq off)          process states, the run queue, sleep and
 *                                   wakeup, parent links, pids (sched.c)
 *   frame_lock, inject_lock,        leaves: never wait for anything
 *   kbench_lock, console_lock
 *
 * Interrupt handlers take no lock at all (trap.c): the timer counts and
 * preempts only user mode, the IPIs flush and acknowledge.
 *
 * A wait longer than SPIN_TIMEOUT_MS is a deadlock: a kernel panic naming the
 * lock and the CPU holding it, instead of a silent hang.
 */
struct spinlock {
	uint32_t locked;
	int32_t cpu;        /* holder, -1 when free (for the panic message and spin_holding) */
	const char *name;
};
#define SPINLOCK_INIT(n) { 0, -1, (n) }
#define SPIN_TIMEOUT_MS 20000u

int spin_trylock(struct spinlock *l);
void spin_lock_irq(struct spinlock *l);
void spin_unlock_irq(struct spinlock *l);
int spin_holding(const struct spinlock *l); /* by this CPU */
void spin_init(struct spinlock *l, const char *name);

/* The audit gate (spinlock.c): a checkpoint on one CPU waits until no other
 * holds a lock, and keeps them from taking one, while the VMM audits. */
void audit_gate_close(void);
void audit_gate_open(void);
int audit_gate_owned(void);
void audit_hold(void);    /* an update in flight between two locks */
void audit_release(void);

/*
 * spin_lock and spin_unlock: the uncontended case inline, everything else --
 * waiting, the double-take and bad-release panics, a closed audit gate -- out
 * of line in spinlock.c, with the same atomic operations in the same order
 * (exchange, then the counted nlocks, then the gate).  An uncontended
 * lock/unlock pair costs 22 instructions inline, 41 as the two calls it was
 * (five callee-saved registers pushed and popped); a page fault takes one to
 * three pairs, fork about fifteen (make bench, icount: reuse write 338 -> 319
 * ticks, COW write 1,158 -> 1,087, fork's fixed cost 7,423 -> 6,983).
 *
 * Then 15 (9 + 6), the same operations in fewer instructions:
 *  - nlocks and the holder's id are addressed through %gs (cpu.h,
 *    CPU_OFF_*) instead of loading mycpu() first, once in each half;
 *  - the count is a `lock incl` whose result nobody reads (it was a `lock
 *    xadd` with the value moved in and out): spin_lock_slow reads nlocks
 *    itself -- only this CPU writes it, interrupt handlers take no lock --
 *    and still a locked RMW, the full barrier between the count and the
 *    gate's read that the Dekker protocol needs (spinlock.c); the gate is
 *    read by a `cmpl` (on x86 a SEQ_CST load is a plain load);
 *  - the release decrements nlocks with a plain `decl`: only this CPU writes
 *    its count, an instruction is not split by an interrupt, and x86 keeps
 *    stores in order, so the closer sees the count drop after the lock's
 *    release store as before; no barrier is needed there (the locked one
 *    cost ~20 cycles on hardware, nothing under icount);
 *  - the release's "not held" test compares the holder field only: it holds
 *    this CPU's id only between this CPU's taking the lock and releasing it
 *    (written after the exchange, reset before the release store), so a
 *    second test of `locked` could never fail alone.
 * cowbench quick, icount, --cpus 1: reuse write 321 -> 312, COW write 1,033 ->
 * 1,009, fork at 1 page 6,982 -> 6,852.
 */
extern uint32_t audit_gate; /* 1 + the closing CPU's id, 0 when open (spinlock.c) */
/* taken == 0: the inline exchange found l taken.  Else it took l, counted it
 * in this CPU's nlocks and found the gate closed. */
void spin_lock_slow(struct spinlock *l, int taken);
_Noreturn void spin_unlock_bad(const struct spinlock *l);

static inline void spin_lock(struct spinlock *l)
{
	if (__builtin_expect(__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE) == 0, 1)) {
		/* Count it (a locked RMW: full barrier), then read the gate. */
		__asm__ goto("lock incl %%gs:%c0\n\t"
			     "cmpl $0, %1\n\t"
			     "jne %l[closed]"
			     : : "i"(CPU_OFF_NLOCKS), "m"(audit_gate) : "memory", "cc" : closed);
		l->cpu = (int32_t)this_cpu_id();
		return;
	closed:
		spin_lock_slow(l, 1);
		return;
	}
	spin_lock_slow(l, 0);
}

static inline void spin_unlock(struct spinlock *l)
{
	if (__builtin_expect(l->cpu != (int32_t)this_cpu_id(), 0))
		spin_unlock_bad(l);
	l->cpu = -1;
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
	/* after: the gate sees it held to the end */
	__asm__ volatile("decl %%gs:%c0" : : "i"(CPU_OFF_NLOCKS) : "memory", "cc");
}

/* Interrupts off, nested (the outermost popcli restores them). */
void pushcli(void);
void popcli(void);

static inline int irqs_enabled(void)
{
	uint64_t f;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	return (f >> 9) & 1;
}

#endif
