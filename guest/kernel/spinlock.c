/* guest/kernel/spinlock.c — spinlocks with a deadlock timeout, and nested interrupt disabling. */
#include "kernel.h"
#include "cpu.h"
#include "spinlock.h"
#include "x86.h"

void spin_init(struct spinlock *l, const char *name)
{
	l->locked = 0;
	l->cpu = -1;
	l->name = name;
}

int spin_holding(const struct spinlock *l)
{
	return __atomic_load_n(&l->locked, __ATOMIC_RELAXED) && l->cpu == (int32_t)mycpu()->id;
}

/* boot_info.tsc_khz is 0 when the VMM does not know the rate: assume a fast
 * TSC, so the timeout lasts at least SPIN_TIMEOUT_MS on any slower one. */
static uint64_t spin_limit(void)
{
	return (boot.tsc_khz ? boot.tsc_khz : 4000000u) * (uint64_t)SPIN_TIMEOUT_MS;
}

static __attribute__((noinline)) void spin_wait(struct spinlock *l)
{
	uint64_t t0 = rdtsc(), limit = spin_limit();
	do {
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED)) {
			sched_point(COWVMM_SP_WAIT, 0);
			cpu_relax();
			if (rdtsc() - t0 > limit)
				panic("cpu %u: spinlock %s held by cpu %d for over %u ms (deadlock)", mycpu()->id,
				      l->name, l->cpu, SPIN_TIMEOUT_MS);
		}
	} while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE));
}

/*
 * The audit gate.  With several CPUs, a checkpoint must not let the VMM read
 * the guest while another CPU is halfway through an update (a frame
 * allocated but not yet mapped, a PTE written before its refcount).  Every
 * update of what the VMM audits -- page tables, refcounts, pins, the free
 * count, the process table, CR3s -- happens while its CPU holds at least one
 * spinlock (or an audit_hold: fork's child not yet visible).  So the
 * checkpointing CPU closes the gate (no other CPU may take its FIRST lock),
 * waits until every other CPU holds none, and only then makes its
 * hypercall; the VMM then stops the world at a consistent state.  The order
 * is Dekker's: a CPU counts a lock it got (a locked add: a full barrier)
 * and then reads the gate; the closer sets the gate, fences, then reads the
 * counts.  Either it sees the lock, or the locker sees the gate and backs
 * off.  A CPU spinning for a lock holds nothing and counts nothing.
 *
 * The closer may itself hold locks: a fault in a user copy made under
 * exec_lock or a pipe's lock (trap.c) closes the gate from there.  That
 * cannot deadlock because no CPU ever waits for those two while holding
 * another lock (the lock order, spinlock.h).
 */
uint32_t audit_gate; /* 1 + the closing CPU's id, 0 when open (read inline by spin_lock) */

/* Parked at the gate, holding no lock: interrupts on (a TLB shootdown from
 * the gate's owner needs our acknowledgement; no handler takes a lock), and
 * as they were again afterwards. */
static void gate_wait(struct cpu *c)
{
	int on = irqs_enabled();
	while (__atomic_load_n(&audit_gate, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&audit_gate, __ATOMIC_RELAXED) != c->id + 1) {
		__asm__ volatile("sti; pause" ::: "memory");
		sched_point(COWVMM_SP_WAIT, 0);
	}
	if (!on)
		__asm__ volatile("cli" ::: "memory");
}

int audit_gate_owned(void)
{
	return __atomic_load_n(&audit_gate, __ATOMIC_RELAXED) == mycpu()->id + 1;
}

/* spin_lock's out-of-line part (spinlock.h has the fast path).  A lock
 * found taken by its own holder is taken twice: the holder field is this
 * CPU's only while this CPU holds the lock.  With taken, the fast path took
 * l, counted it and found the gate closed: nlocks is read back (only this
 * CPU writes it) and the gate again (any read after the locked increment is
 * ordered after it, as Dekker's protocol needs). */
void spin_lock_slow(struct spinlock *l, int taken)
{
	struct cpu *c = mycpu();
	int n = 0;
	uint32_t g = 0;
	if (!taken && l->cpu == (int32_t)c->id)
		panic("cpu %u: spinlock %s taken twice", c->id, l->name);
	if (taken) {
		n = __atomic_load_n(&c->nlocks, __ATOMIC_RELAXED);
		g = __atomic_load_n(&audit_gate, __ATOMIC_SEQ_CST);
	}
	for (;;) {
		if (n) {
			if (!g || n > 1 || g == c->id + 1)
				break;
			/* the gate is closed and this would be our first lock: wait */
			__atomic_sub_fetch(&c->nlocks, 1, __ATOMIC_SEQ_CST);
			__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
			gate_wait(c);
		}
		if (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE) != 0)
			spin_wait(l);
		n = __atomic_add_fetch(&c->nlocks, 1, __ATOMIC_SEQ_CST);
		g = __atomic_load_n(&audit_gate, __ATOMIC_SEQ_CST);
	}
	l->cpu = (int32_t)c->id;
}

int spin_trylock(struct spinlock *l)
{
	struct cpu *c = mycpu();
	if (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		return 0;
	int n = __atomic_add_fetch(&c->nlocks, 1, __ATOMIC_SEQ_CST);
	uint32_t g = __atomic_load_n(&audit_gate, __ATOMIC_SEQ_CST);
	if (g && n == 1 && g != c->id + 1) {
		__atomic_sub_fetch(&c->nlocks, 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
		return 0;
	}
	l->cpu = (int32_t)c->id;
	return 1;
}

/* An update in flight across lock boundaries (fork, from the child's first
 * reference to its being visible): counts as a lock held, and like a first
 * lock waits at a closed gate. */
void audit_hold(void)
{
	struct cpu *c = mycpu();
	for (;;) {
		int n = __atomic_add_fetch(&c->nlocks, 1, __ATOMIC_SEQ_CST);
		uint32_t g = __atomic_load_n(&audit_gate, __ATOMIC_SEQ_CST);
		if (!g || n > 1 || g == c->id + 1)
			return;
		__atomic_sub_fetch(&c->nlocks, 1, __ATOMIC_SEQ_CST);
		gate_wait(c);
	}
}

void audit_release(void)
{
	__atomic_sub_fetch(&mycpu()->nlocks, 1, __ATOMIC_RELEASE);
}

/* Close the gate (one CPU at a time) and wait until no other CPU holds a
 * lock.  Interrupts stay as they are (on: a lock holder may be waiting for
 * our TLB-shootdown acknowledgement). */
void audit_gate_close(void)
{
	struct cpu *c = mycpu();
	uint64_t t0 = rdtsc(), limit = spin_limit();
	uint32_t zero;
	do {
		zero = 0;
		gate_wait(c);
	} while (!__atomic_compare_exchange_n(&audit_gate, &zero, c->id + 1, 0, __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < ncpus; i++) {
		if (i == c->id)
			continue;
		while (__atomic_load_n(&cpus[i].nlocks, __ATOMIC_ACQUIRE)) {
			sched_point(COWVMM_SP_WAIT, 0);
			cpu_relax();
			if (rdtsc() - t0 > limit)
				panic("cpu %u: checkpoint waited %u ms for cpu %u to release its locks", c->id,
				      SPIN_TIMEOUT_MS, i);
		}
	}
}

void audit_gate_open(void)
{
	__atomic_store_n(&audit_gate, 0, __ATOMIC_RELEASE);
}

void spin_unlock_bad(const struct spinlock *l)
{
	panic("cpu %u: releasing spinlock %s it does not hold (holder %d)", mycpu()->id, l->name, l->cpu);
}

void pushcli(void)
{
	int on = irqs_enabled();
	__asm__ volatile("cli" ::: "memory");
	struct cpu *c = mycpu();
	if (c->ncli++ == 0)
		c->intena = on;
}

void popcli(void)
{
	struct cpu *c = mycpu();
	if (irqs_enabled())
		panic("cpu %u: popcli with interrupts on", c->id);
	if (--c->ncli < 0)
		panic("cpu %u: popcli without pushcli", c->id);
	if (c->ncli == 0 && c->intena)
		__asm__ volatile("sti" ::: "memory");
}

void spin_lock_irq(struct spinlock *l)
{
	pushcli();
	spin_lock(l);
}

void spin_unlock_irq(struct spinlock *l)
{
	spin_unlock(l);
	popcli();
}
