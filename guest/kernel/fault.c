/* guest/kernel/fault.c — the user page-fault handler: demand zero pages, zero fill, and copy-on-write (copy or reuse). */
#include "kernel.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

/* Install a fresh private frame for a write, replacing `old` (0 if none):
 * the new PTE is writable and already accessed+dirty (the write is about to
 * happen), the TLB entry is invalidated, then the old reference is dropped. */
static void install_private(pte_t *pte, uint64_t va, uint64_t pa, uint32_t prot, uint64_t old)
{
	*pte = pa | leaf_flags(prot) | PTE_A | PTE_D;
	invlpg(va);
	if (old)
		frame_put(old);
}

/* Write fault on a present COW PTE (Linux do_wp_page). */
static int do_wp_page(struct proc *p, pte_t *pte, uint64_t va, struct region *r)
{
	uint64_t old = *pte & PTE_ADDR;

	checkpoint(COWVMM_CP_COW_BEFORE, p->pid, 0, 0, va, old >> PAGE_SHIFT, 0);
	/* wp_page_reuse: the faulting PTE holds the only reference -- no other
	 * PTE and no kernel pin (refcount counts both) -- so nobody can observe
	 * the page changing: make it writable in place, copy nothing. */
	if (frame_ref(old) == 1) {
		*pte = (*pte | PTE_RW | PTE_A | PTE_D) & ~PTE_COW;
		invlpg(va);
		stats.cow_reuses++;
		checkpoint(COWVMM_CP_COW_AFTER, p->pid, 0, 0, va, old >> PAGE_SHIFT, old >> PAGE_SHIFT);
		return FAULT_OK;
	}
	/* wp_page_copy: someone else still references the frame. */
	uint64_t new = frame_alloc(COWVMM_SITE_DATA_FRAME);
	if (!new)
		return FAULT_OOM;
	copy_frame(new, old);
	install_private(pte, va, new, r->prot, old);
	stats.cow_copies++;
	checkpoint(COWVMM_CP_COW_AFTER, p->pid, 0, 0, va, old >> PAGE_SHIFT, new >> PAGE_SHIFT);
	return FAULT_OK;
}

int handle_mm_fault(struct proc *p, uint64_t va, uint32_t err)
{
	int write = (err & X86_PF_W) != 0;
	struct mm *mm = &p->mm;

	if (va >= USER_TOP)
		return FAULT_SEGV;
	struct region *r = region_find(mm, va);
	if (!r)
		return FAULT_SEGV;
	if (write && !(r->prot & PROT_WRITE))
		return FAULT_SEGV;            /* e.g. text: never a COW fault */
	if (!(r->prot & (PROT_READ | PROT_WRITE)))
		return FAULT_SEGV;            /* PROT_NONE */
	if ((err & X86_PF_I) && !(r->prot & PROT_EXEC_K))
		return FAULT_SEGV;

	va = PAGE_DOWN(va);
	int oom = 0;
	pte_t *pte = walk(mm->pml4, va, 1, &oom);
	if (!pte)
		return FAULT_OOM;

	if (!(*pte & PTE_P)) {
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
		install_private(pte, va, pa, r->prot, 0);
		return FAULT_OK;
	}

	/* Nothing to change: another path (or a VMM-injected fault) already
	 * made this access legal; a stale TLB entry is all that can be left. */
	if ((*pte & PTE_US) && (!write || (*pte & PTE_RW))) {
		invlpg(va);
		stats.spurious_faults++;
		return FAULT_OK;
	}

	if (*pte & PTE_ZERO) {
		/* Write to the zero frame: a fresh zeroed frame, nothing to copy. */
		uint64_t pa = frame_alloc_zeroed(COWVMM_SITE_DATA_FRAME);
		if (!pa)
			return FAULT_OOM;
		install_private(pte, va, pa, r->prot, zero_frame_pa);
		stats.zero_fills++;
		return FAULT_OK;
	}
	if (*pte & PTE_COW)
		return do_wp_page(p, pte, va, r);
	/* A read-only PTE without COW in a writable region is a kernel bug:
	 * mprotect() marks such pages COW when it grants write access. */
	panic("pid %d: read-only PTE %#lx without COW in writable region at %#lx", p->pid, *pte, va);
}
