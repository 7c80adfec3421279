/* guest/kernel/sched.c — the scheduler on every CPU: one global run queue, a scheduler loop per CPU, sleep/wakeup, preemption at the timer tick. */
#include "kernel.h"
#include "cowvmm/names.h"
#include "cpu.h"
#include "mm.h"
#include "proc.h"
#include "spinlock.h"
#include "x86.h"

/*
 * One run queue for all CPUs -- the process table itself, scanned round robin
 * under sched_lock -- rather than Linux's per-CPU queues: with at most 16
 * CPUs and 64 processes a scan is short, there is nothing to balance, and a
 * runnable process is picked up by whichever CPU is free first, which is
 * what the SMP tests want (two threads of one process on two CPUs at once).
 *
 * Each CPU runs scheduler() on its own stack (xv6's design): a process gives
 * up its CPU with sched(), which switches to that loop, never directly to
 * another process.  The loop loads the process's page tables before running
 * it and the kernel's after (switch_mm), so a CPU's CR3 names a live address
 * space at all times: the VMM's audit checks exactly that, and the page
 * tables of an exited process are never left loaded anywhere.  The CR3 write
 * also flushes every non-global TLB entry, which is what makes re-using a
 * kernel-stack slot safe (its pages are remapped when a slot is reused; a
 * CPU that ran the slot's previous owner reloads CR3 before it can touch the
 * new one).  The kernel uses no PCIDs and no global pages for that reason.
 */
struct spinlock sched_lock = SPINLOCK_INIT("sched");
uint8_t fx_default[512] __attribute__((aligned(16)));
static int rr_last = NPROC - 1; /* slot picked last: the scan starts after it */

/* Load mm (NULL: the kernel's tables) on this CPU.  The CPU joins the new
 * mm's cpumask BEFORE its CR3 points there, with a locked operation (a full
 * barrier): a shootdown that changes a PTE and then reads the mask either
 * sees this CPU in it, or this CPU's CR3 load comes after the PTE store and
 * its TLB starts empty (tlb.c).  It leaves the old mask only after CR3 no
 * longer points at the old tables. */
void switch_mm(struct cpu *c, struct mm *next)
{
	struct mm *prev = c->mm;
	if (prev == next)
		return;
	uint32_t bit = 1u << c->id;
	if (next)
		__atomic_fetch_or(&next->cpumask, bit, __ATOMIC_SEQ_CST);
	write_cr3(next ? next->pml4 : kernel_pml4_pa);
	c->mm = next;
	if (prev)
		__atomic_fetch_and(&prev->cpumask, ~bit, __ATOMIC_RELEASE);
}

static void dump_procs(void)
{
	for (int i = 0; i < NPROC; i++) {
		struct proc *p = &proctab[i];
		if (p->state != COWVMM_PSTATE_UNUSED)
			kprintf("  pid %d ppid %d %s %s%s\n", p->pid, p->ppid, cowvmm_pstate_name(p->state), p->name,
				p->chan ? " (sleeping)" : "");
	}
}

/* Nobody can run, nobody is running, and somebody sleeps: with no devices
 * and no timed sleep, nothing can ever wake it.  Called under sched_lock. */
static void check_deadlock(void)
{
	int sleeping = 0;
	for (int i = 0; i < NPROC; i++) {
		uint32_t st = proctab[i].state;
		if (st == COWVMM_PSTATE_RUNNABLE || st == COWVMM_PSTATE_RUNNING || st == COWVMM_PSTATE_EMBRYO)
			return;
		sleeping += st == COWVMM_PSTATE_SLEEPING;
	}
	if (sleeping) {
		dump_procs();
		panic("deadlock: every process is blocked");
	}
}

static int may_run_here(const struct proc *p, const struct cpu *c)
{
	return p->state == COWVMM_PSTATE_RUNNABLE && (p->cpus_allowed >> c->id) & 1;
}

/* Under sched_lock: the next runnable process this CPU may run, after the
 * one picked last.  A process that just yielded here comes only if nothing
 * else can (Linux's sched_yield: to the back of the queue), so a yield
 * really hands the CPU to whoever waits for it. */
static struct proc *pick(struct cpu *c)
{
	struct proc *found = NULL;
	for (int k = 1; k <= NPROC && !found; k++) {
		int i = (rr_last + k) % NPROC;
		if (may_run_here(&proctab[i], c) && &proctab[i] != c->yielded)
			found = &proctab[i];
	}
	if (!found && c->yielded && may_run_here(c->yielded, c))
		found = c->yielded;
	c->yielded = NULL;
	if (found)
		rr_last = (int)(found - proctab);
	return found;
}

/* Wake one idle CPU among `mask`, if there is one, to pick up newly runnable
 * work (under sched_lock).  Without it an idle CPU would wait for its next
 * timer tick. */
static void kick_idle(uint64_t mask)
{
	if (!have_apic)
		return;
	uint32_t me = mycpu()->id;
	for (unsigned i = 0; i < ncpus; i++)
		if (i != me && cpus[i].idle && (mask >> i) & 1) {
			cpus[i].idle = 0;
			apic_send_ipi(i, IPI_RESCHED_VECTOR);
			STAT_INC(ipis_sent);
			sched_point(COWVMM_SP_WAKE, 1ull << i);
			return;
		}
}

_Noreturn static void scheduler(void)
{
	struct cpu *c = mycpu();
	for (;;) {
		__asm__ volatile("sti" ::: "memory"); /* let ticks and IPIs in between rounds */
		spin_lock_irq(&sched_lock);
		struct proc *p = pick(c);
		if (!p) {
			check_deadlock();
			/* Idle until an interrupt: the tick, or kick_idle's IPI.  The
			 * lock goes with interrupts still off, and `sti; hlt` opens
			 * them only as HLT starts, so a wake-up sent in between is
			 * not slept through. */
			c->idle = 1;
			spin_unlock(&sched_lock);
			KASSERT(c->ncli == 1);
			c->ncli = 0;
			sched_point(COWVMM_SP_IDLE, 0); /* interrupts still off: no wake-up is lost */
			__asm__ volatile("sti; hlt" ::: "memory");
			c->idle = 0;
			continue;
		}
		p->state = COWVMM_PSTATE_RUNNING;
		p->cpu = (int32_t)c->id;
		c->proc = p;
		/* The CPU takes traps from user mode on TSS.rsp0, `syscall` on ours. */
		c->syscall_rsp = p->kstack + KSTACK_SIZE;
		tss_set_rsp0(c, c->syscall_rsp);
		switch_mm(c, p->mm && p->mm->pml4 ? p->mm : NULL);
		/* The kernel never touches FPU/SSE: this is the user's state. */
		fxrstor(p->fxstate);
		swtch(&c->sched_ctx, p->ctx);
		/* p called sched(): it is off this CPU, sched_lock still held. */
		c->proc = NULL;
		switch_mm(c, NULL);
		sched_finish(p);
		spin_unlock_irq(&sched_lock);
	}
}

/* Give the CPU back to its scheduler loop.  The caller holds sched_lock (and
 * no other lock: it would be held across the sleep) and has set its state. */
void sched(void)
{
	struct cpu *c = mycpu();
	struct proc *p = c->proc;
	if (!spin_holding(&sched_lock) || c->nlocks != 1 || c->ncli != 1)
		panic("sched: pid %d switches with locks held (%d) or interrupts nested (%d)", p->pid, c->nlocks, c->ncli);
	KASSERT(p->state != COWVMM_PSTATE_RUNNING && !irqs_enabled());
	fxsave(p->fxstate);
	int intena = c->intena;
	swtch(&p->ctx, c->sched_ctx);
	mycpu()->intena = intena; /* maybe another CPU now */
}

/* A new process's or thread's first instruction on its kernel stack
 * (trapasm.S's forkret): scheduler() switched here holding sched_lock. */
void forkret_unlock(void);
void forkret_unlock(void)
{
	spin_unlock_irq(&sched_lock);
}

/* The boot CPU, once init is runnable; the others from ap_main. */
_Noreturn void scheduler_start(void)
{
	scheduler();
}

/* Sleep on chan, atomically releasing lk (which must be held, and is held
 * again on return): a wakeup() between the caller's test and the sleep
 * cannot be lost, as wakeup() needs lk or sched_lock, and sleep holds one of
 * them throughout. */
void sleep_on(void *chan, struct spinlock *lk)
{
	struct proc *p = curproc;
	if (lk != &sched_lock) {
		spin_lock_irq(&sched_lock);
		spin_unlock(lk);
	}
	/* Killed between the caller's test and here (kill needs only
	 * sched_lock, not lk): do not sleep, the caller's loop sees it.  Every
	 * sleep in this kernel is interruptible. */
	if (!p->killed) {
		p->chan = chan;
		p->state = COWVMM_PSTATE_SLEEPING;
		sched();
		p->chan = NULL;
	}
	if (lk != &sched_lock) {
		spin_unlock_irq(&sched_lock);
		spin_lock(lk);
	}
}

void wakeup_locked(void *chan)
{
	uint64_t woke = 0;
	for (int i = 0; i < NPROC; i++)
		if (proctab[i].state == COWVMM_PSTATE_SLEEPING && proctab[i].chan == chan) {
			proctab[i].state = COWVMM_PSTATE_RUNNABLE;
			woke |= proctab[i].cpus_allowed;
		}
	if (woke)
		kick_idle(woke);
}

void wakeup(void *chan)
{
	spin_lock_irq(&sched_lock);
	wakeup_locked(chan);
	spin_unlock_irq(&sched_lock);
}

/* Made runnable (a new process, a new thread): an idle CPU may take it. */
void make_runnable(struct proc *p)
{
	spin_lock_irq(&sched_lock);
	p->state = COWVMM_PSTATE_RUNNABLE;
	kick_idle(p->cpus_allowed);
	spin_unlock_irq(&sched_lock);
}

/* Under sched_lock: give the CPU to whoever else may run here. */
static void yield_locked(void)
{
	struct cpu *c = mycpu();
	c->yielded = c->proc;
	c->proc->state = COWVMM_PSTATE_RUNNABLE;
	sched();
}

void yield_cpu(void)
{
	sched_point(COWVMM_SP_YIELD, 0);
	spin_lock_irq(&sched_lock);
	yield_locked();
	spin_unlock_irq(&sched_lock);
}

/*
 * The timer tick in user mode: switch only if another process may run on
 * this CPU, or if this one may no longer (its affinity changed).  Alone on
 * its CPU a process keeps it without a trip through the scheduler loop, as
 * in Linux -- that trip reloads CR3 and so empties the TLB, which would
 * also wipe the very stale entries the SMP tests must be able to meet
 * (cases_smp.c).  Returns whether it switched.
 */
int sched_tick(void)
{
	struct cpu *c = mycpu();
	int other = !((c->proc->cpus_allowed >> c->id) & 1);
	spin_lock_irq(&sched_lock);
	for (int i = 0; i < NPROC && !other; i++)
		other = &proctab[i] != c->proc && may_run_here(&proctab[i], c);
	if (other)
		yield_locked();
	spin_unlock_irq(&sched_lock);
	return other;
}

/* SYS_setaffinity: the CPUs thread `tid` (0: the caller; a thread of the
 * caller's process) may run on.  The caller moves at once; another thread
 * at its next tick or sleep. */
int sched_setaffinity(int tid, uint64_t mask)
{
	struct proc *self = curproc, *t = NULL;
	mask &= ncpus >= 64 ? ~0ull : (1ull << ncpus) - 1;
	if (!mask)
		return -EINVAL;
	spin_lock_irq(&sched_lock);
	if (!tid)
		t = self;
	else
		for (int i = 0; i < NPROC && !t; i++)
			if (proctab[i].pid == tid && proctab[i].leader == self->leader &&
			    proctab[i].state != COWVMM_PSTATE_UNUSED && proctab[i].state != COWVMM_PSTATE_ZOMBIE)
				t = &proctab[i];
	if (!t) {
		spin_unlock_irq(&sched_lock);
		return -ESRCH;
	}
	t->cpus_allowed = mask;
	if (t->state == COWVMM_PSTATE_RUNNABLE)
		kick_idle(mask);
	if (t == self && !((mask >> mycpu()->id) & 1))
		yield_locked();
	spin_unlock_irq(&sched_lock);
	return 0;
}

/* Mark a process to die with `sig` at its next return to user mode (under
 * sched_lock): a sleeper is woken so its wait loop notices; one running on
 * another CPU gets an IPI, so it enters the kernel now rather than at its
 * next tick. */
void kill_proc_locked(struct proc *p, int sig)
{
	if (!p->killed)
		p->killed = sig;
	if (p->state == COWVMM_PSTATE_SLEEPING) {
		p->state = COWVMM_PSTATE_RUNNABLE;
		kick_idle(p->cpus_allowed);
	} else if (p->state == COWVMM_PSTATE_RUNNING && p->cpu != (int32_t)mycpu()->id && have_apic) {
		apic_send_ipi((uint32_t)p->cpu, IPI_RESCHED_VECTOR);
		STAT_INC(ipis_sent);
	}
}

void kill_proc(struct proc *p, int sig)
{
	spin_lock_irq(&sched_lock);
	kill_proc_locked(p, sig);
	spin_unlock_irq(&sched_lock);
}
