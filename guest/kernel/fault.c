/* guest/kernel/fault.c — the user page-fault handler: demand zero pages, zero fill, and copy-on-write (copy or reuse), under the mm's lock. */
#include "kernel.h"
#include "mm.h"
#include "cpu.h"
#include "proc.h"
#include "spinlock.h"
#include "x86.h"

/* Install a fresh private frame for a write, replacing `old` (0 if none):
 * the new PTE is writable and already accessed+dirty (the write is about to
 * happen).  Linux's order: replace the PTE, flush it on every CPU that may
 * cache the old translation (the other threads' CPUs), and only then drop
 * the old frame's reference -- dropped first, the other sharer could reuse
 * the frame in place while a stale TLB entry here still maps it.  Inlined
 * into its three callers: as a call it cost 19 instructions per COW fault and
 * 18 per zero fill in make bench (five callee-saved registers, arguments). */
static inline __attribute__((always_inline)) void install_private(struct mm *mm, pte_t *pte, uint64_t va, uint64_t pa, uint32_t prot, uint64_t old)
{
	*pte = pa | leaf_flags(prot) | PTE_A | PTE_D;
	if (old && kbug(KBUG_PUT_BEFORE_FLUSH)) {
		/* The bug kernel: the reference goes first, and the shootdown
		 * waits until this thread has given its CPU away once
		 * (handle_mm_fault), so the window a real kernel would leave open
		 * for a few instructions is wide enough for a test to hit: the
		 * other sharer runs meanwhile on this CPU, while a sibling thread
		 * keeps its CPU and its stale TLB entry. */
		frame_put(old);
		mycpu()->deferred_flush_mm = mm;
		mycpu()->deferred_flush_va = va;
		return;
	}
	tlb_flush_page(mm, va);
	if (old)
		frame_put(old);
}

/* Write fault on a present COW PTE (Linux do_wp_page), mm->lock held; it may
 * be dropped and taken again.  orig is the PTE as the caller saw it. */
static inline __attribute__((always_inline)) int do_wp_page(struct proc *p, struct mm *mm, pte_t *pte, pte_t orig, uint64_t va, struct region *r)
{
	uint64_t old = orig & PTE_ADDR;

	/* Checkpoints with the lock held: handle_mm_fault closed the audit gate
	 * (spinlock.c), so no other CPU is in a critical section meanwhile and
	 * the before/after pair sees this fault alone, as on one CPU. */
	checkpoint(COWVMM_CP_COW_BEFORE, p->pid, 0, 0, va, old >> PAGE_SHIFT, 0);
	/* wp_page_reuse: the faulting PTE holds the only reference -- no other
	 * PTE and no kernel pin (refcount counts both) -- so nobody can observe
	 * the page changing: make it writable in place, copy nothing.  Still a
	 * downgrade of nothing: no other CPU can cache a writable entry. */
	if (frame_ref(old) == 1) {
		*pte = (orig | PTE_RW | PTE_A | PTE_D) & ~PTE_COW;
		invlpg(va);
		STAT_INC(cow_reuses);
		p->own_reuses++;
		this_cpu_set_fault_ev(COWVMM_EV_REUSE_FAULT);
		checkpoint(COWVMM_CP_COW_AFTER, p->pid, 0, 0, va, old >> PAGE_SHIFT, old >> PAGE_SHIFT);
		return FAULT_OK;
	}
	/* wp_page_copy: someone else still references the frame.  With other
	 * threads, the copy is made without the lock (as Linux copies without
	 * the PTL), then the PTE is looked at again under it: another thread
	 * of this mm may have broken the same COW meanwhile, and its copy is
	 * the one that counts -- ours goes back (no second copy installed, no
	 * frame leaked).
	 *
	 * A process of one thread keeps the lock across the copy: the drop is
	 * there so that sibling threads need not wait 512 ticks for the lock,
	 * and there are none.  Nobody else can change this mm's page tables
	 * meanwhile either: every writer of them holds mm->lock and runs in a
	 * thread of the group (faults, mmap/munmap/mprotect/brk, pin, fork of
	 * this very process, exit) -- no other process and no interrupt
	 * handler touches them -- and a new thread is only made by a thread of
	 * the group, i.e. by us.  nthreads is read under mm->lock: an exiting
	 * sibling counts itself out inside its own mm->lock section (exit.c),
	 * so 1 here means its last page-table access is behind us.  The
	 * audit is not affected: with several CPUs it closes the gate for the
	 * whole fault, and the checkpoints are taken under mm->lock already.
	 * frame_alloc under mm->lock is the order the zero fill already uses
	 * (frame_lock is a leaf).  The re-check stays (2 instructions under
	 * the lock): a VMM injection at the cow-before checkpoint could have
	 * changed the PTE.  Saved: an unlock/lock pair and the spills around
	 * it, cowbench quick, icount: COW write 1,009 -> 990. */
	uint64_t new;
	if (__builtin_expect(__atomic_load_n(&mm_owner(mm)->nthreads, __ATOMIC_RELAXED) == 1, 1)) {
		new = frame_alloc(COWVMM_SITE_DATA_FRAME);
		if (!new)
			return FAULT_OOM;
		copy_frame(new, old);
	} else {
		spin_unlock(&mm->lock);
		sched_point(COWVMM_SP_COW_UNLOCKED, 0);
		new = frame_alloc(COWVMM_SITE_DATA_FRAME);
		if (new)
			copy_frame(new, old);
		sched_point(COWVMM_SP_COW_COPIED, 0);
		spin_lock(&mm->lock);
		if (!new)
			return FAULT_OOM;
	}
	if (*pte != orig && !kbug(KBUG_NO_RECHECK)) {
		frame_put(new);
		STAT_INC(cow_races);
		return FAULT_RETRY;
	}
	install_private(mm, pte, va, new, r->prot, old);
	STAT_INC(cow_copies);
	p->own_copies++;
	this_cpu_set_fault_ev(COWVMM_EV_COW_FAULT);
	checkpoint(COWVMM_CP_COW_AFTER, p->pid, 0, 0, va, old >> PAGE_SHIFT, new >> PAGE_SHIFT);
	return FAULT_OK;
}

static inline __attribute__((always_inline)) int fault_locked(struct proc *p, struct mm *mm, uint64_t va, uint32_t err)
{
	int write = (err & X86_PF_W) != 0;

	if (va >= USER_TOP)
		return FAULT_SEGV;
	struct region *r = region_find(mm, va);
	if (!r)
		return FAULT_SEGV;
	/* the region's test first: GCC lays the write fault out of line for
	 * `write && ...` even when told it is unlikely (a jump out and back) */
	if (__builtin_expect(!(r->prot & PROT_WRITE), 0) && write)
		return FAULT_SEGV;            /* e.g. text: never a COW fault */
	if (!(r->prot & (PROT_READ | PROT_WRITE)))
		return FAULT_SEGV;            /* PROT_NONE */
	if ((err & X86_PF_I) && !(r->prot & PROT_EXEC_K))
		return FAULT_SEGV;

	va = PAGE_DOWN(va);
	pte_t *pte = walk_present(mm->pml4, va);
	if (__builtin_expect(!pte, 0)) {
		int oom = 0;
		pte = walk(mm->pml4, va, 1, &oom);
		if (!pte)
			return FAULT_OOM;
	}
	pte_t e = *pte;

	if (!(e & PTE_P)) {
		if (!write) {
			/* First touch by a read: share the zero frame, read-only. */
			frame_get(zero_frame_pa);
			*pte = zero_frame_pa | (leaf_flags(r->prot) & ~PTE_RW) | PTE_ZERO;
			return FAULT_OK;
		}
		uint64_t pa = frame_alloc_zeroed(COWVMM_SITE_DATA_FRAME);
		if (!pa)
			return FAULT_OOM;
		/* first touch by a write: a zeroed frame (not counted as a
		 * zero fill, which means a write to the shared zero frame) */
		install_private(mm, pte, va, pa, r->prot, 0);
		return FAULT_OK;
	}

	/* Nothing to change: another path (another thread, or a VMM-injected
	 * fault) already made this access legal; a stale TLB entry is all that
	 * can be left. */
	if ((e & PTE_US) && (!write || (e & PTE_RW))) {
		invlpg(va);
		STAT_INC(spurious_faults);
		return FAULT_OK;
	}

	if (e & PTE_ZERO) {
		/* Write to the zero frame: a fresh zeroed frame, nothing to copy. */
		uint64_t pa = frame_alloc_zeroed(COWVMM_SITE_DATA_FRAME);
		if (!pa)
			return FAULT_OOM;
		install_private(mm, pte, va, pa, r->prot, zero_frame_pa);
		STAT_INC(zero_fills);
		p->own_zero_fills++;
		this_cpu_set_fault_ev(COWVMM_EV_ZERO_FAULT);
		return FAULT_OK;
	}
	if (e & PTE_COW)
		return do_wp_page(p, mm, pte, e, va, r);
	/* A read-only PTE without COW in a writable region is a kernel bug:
	 * mprotect() marks such pages COW when it grants write access. */
	panic("pid %d: read-only PTE %#lx without COW in writable region at %#lx", p->pid, e, va);
}

/* FAULT_RETRY: the PTE changed while the lock was dropped; the next look
 * sees what the other CPU did (bounded: each retry means another CPU
 * completed a change to this PTE).  tries: the looks taken already. */
static __attribute__((noinline)) int fault_loop(struct proc *p, struct mm *mm, uint64_t va, uint32_t err, int tries)
{
	for (;; tries++) {
		if (tries > 1000)
			panic("pid %d: fault at %#lx retried 1000 times", p->pid, va);
		spin_lock(&mm->lock);
		int r = fault_locked(p, mm, va, err);
		spin_unlock(&mm->lock);
		if (r != FAULT_RETRY)
			return r;
	}
}

/* The bug kernel's late shootdown (install_private). */
static __attribute__((noinline)) void deferred_flush(int gate)
{
	struct mm *dm = mycpu()->deferred_flush_mm;
	uint64_t dva = mycpu()->deferred_flush_va;
	mycpu()->deferred_flush_mm = NULL;
	if (!gate && !mycpu()->nlocks)
		yield_cpu();
	spin_lock(&dm->lock);
	tlb_flush_mm(dm, dva, dva + PAGE_SIZE);
	spin_unlock(&dm->lock);
}

/* Audited with several CPUs: the whole fault inside a closed audit gate (the
 * others wait at their first lock), so its checkpoints may be taken under
 * mm->lock and see a guest no other CPU is halfway through changing.  It
 * serializes faults -- only when the VMM audits. */
static __attribute__((noinline)) int fault_gated(struct proc *p, uint64_t va, uint32_t err)
{
	audit_gate_close();
	int r = fault_loop(p, p->mm, va, err, 0);
	if (kbug(KBUG_PUT_BEFORE_FLUSH) && mycpu()->deferred_flush_mm)
		deferred_flush(1);
	audit_gate_open();
	return r;
}

/*
 * The same steps as one loop did (gate, lock, fault_locked, unlock, retry
 * while FAULT_RETRY, the bug kernel's deferred flush, gate), with the rare
 * ones out of line: the gated fault, the retries, the deferred flush.  The
 * common fault -- no audit, first look decides -- keeps no loop counter and
 * no gate flag alive across the handler.  fault_locked and do_wp_page are
 * inlined by force into both callers (left to GCC, do_wp_page became a call:
 * +16 per reuse fault).  cowbench quick, icount: reuse write 312 -> 302, COW
 * write 990 -> 980, zero fill handler 873 -> 862.
 */
int handle_mm_fault(struct proc *p, uint64_t va, uint32_t err)
{
	if (__builtin_expect(checkpoints_wanted, 0) && ncpus > 1)
		return fault_gated(p, va, err);
	struct mm *mm = p->mm;
	spin_lock(&mm->lock);
	int r = fault_locked(p, mm, va, err);
	spin_unlock(&mm->lock);
	if (__builtin_expect(r == FAULT_RETRY, 0))
		r = fault_loop(p, mm, va, err, 1);
	if (kbug(KBUG_PUT_BEFORE_FLUSH) && mycpu()->deferred_flush_mm)
		deferred_flush(0);
	return r;
}
