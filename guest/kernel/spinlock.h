/* guest/kernel/spinlock.h — spinlocks, the two kinds, and the kernel's lock order. */
#ifndef GUEST_SPINLOCK_H
#define GUEST_SPINLOCK_H

#include "kernel.h"

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

void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);
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
