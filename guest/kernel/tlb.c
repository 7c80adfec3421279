/* guest/kernel/tlb.c — TLB shootdown: flush a range of an address space on every CPU that has it loaded, and wait for each. */
#include "kernel.h"
#include "cpu.h"
#include "mm.h"
#include "spinlock.h"
#include "x86.h"

/* Above this many pages a full flush (CR3 reload) is cheaper than invlpg
 * page by page; Linux's tlb_single_page_flush_ceiling is 33. */
#define FLUSH_CEILING_PAGES 32

/* One request per initiating CPU: a CPU has at most one shootdown in flight
 * (it waits for it), so its slot is free again when `pending` is 0. */
struct shootdown {
	struct mm *mm;
	uint64_t start, end;   /* end 0: the whole address space */
	uint32_t pending;      /* CPUs yet to acknowledge: each clears its bit */
};
static struct shootdown requests[COWVMM_MAX_CPUS];

static void flush_local(uint64_t start, uint64_t end)
{
	if (!end || end - start > FLUSH_CEILING_PAGES * PAGE_SIZE) {
		flush_tlb();
		return;
	}
	for (uint64_t va = start; va < end; va += PAGE_SIZE)
		invlpg(va);
}

void tlb_flush_mm(struct mm *mm, uint64_t start, uint64_t end)
{
	struct cpu *c = mycpu();
	uint32_t me = 1u << c->id;
	/* The PTE stores before the read of the mask (switch_mm's other half). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint32_t mask = __atomic_load_n(&mm->cpumask, __ATOMIC_RELAXED);
	if (mask & me)
		flush_local(start, end);
	mask &= ~me;
	if (!mask || kbug(KBUG_NO_SHOOTDOWN))
		return;
	/* The others acknowledge from their IPI handler: waiting with interrupts
	 * off, or under an irq-off lock, could wait forever for a CPU that is
	 * itself waiting for that lock (spinlock.h). */
	if (c->ncli || !irqs_enabled())
		panic("cpu %u: TLB shootdown with interrupts off (ncli %d)", c->id, c->ncli);
	struct shootdown *r = &requests[c->id];
	KASSERT(!__atomic_load_n(&r->pending, __ATOMIC_ACQUIRE));
	r->mm = mm;
	r->start = start;
	r->end = end;
	__atomic_store_n(&r->pending, mask, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < ncpus; i++)
		if (mask & (1u << i)) {
			apic_send_ipi(i, IPI_SHOOTDOWN_VECTOR);
			STAT_INC(ipis_sent);
		}
	STAT_INC(tlb_shootdowns);
	uint64_t t0 = rdtsc(), limit = (boot.tsc_khz ? boot.tsc_khz : 4000000u) * (uint64_t)SPIN_TIMEOUT_MS;
	uint32_t left;
	while ((left = __atomic_load_n(&r->pending, __ATOMIC_ACQUIRE))) {
		sched_point(COWVMM_SP_WAIT, 0);
		cpu_relax();
		if (rdtsc() - t0 > limit)
			panic("cpu %u: TLB shootdown not acknowledged by CPUs %#x after %u ms", c->id, left,
			      SPIN_TIMEOUT_MS);
	}
}

/* IPI_SHOOTDOWN_VECTOR: serve every request that names this CPU.  A CPU that
 * has since switched away from the mm flushed with its CR3 write; it only
 * acknowledges. */
void tlb_shootdown_interrupt(void)
{
	struct cpu *c = mycpu();
	uint32_t me = 1u << c->id;
	for (unsigned i = 0; i < ncpus; i++) {
		struct shootdown *r = &requests[i];
		if (!(__atomic_load_n(&r->pending, __ATOMIC_ACQUIRE) & me))
			continue;
		if (c->mm == r->mm)
			flush_local(r->start, r->end);
		__atomic_fetch_and(&r->pending, ~me, __ATOMIC_RELEASE);
	}
	apic_eoi();
}
