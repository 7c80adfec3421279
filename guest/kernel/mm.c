/* guest/kernel/mm.c — whole address spaces: create, release, and fork's copy_mm (share every page copy-on-write). */
#include "kernel.h"
#include "mm.h"
#include "x86.h"

int mm_init(struct mm *mm)
{
	memset(mm, 0, sizeof(*mm));
	spin_init(&mm->lock, "mm");
	mm->pml4 = pml4_create();
	mm->mmap_next = USER_MMAP_BASE;
	return mm->pml4 ? 0 : -ENOMEM;
}

void mm_release(struct mm *mm)
{
	if (mm->pml4)
		free_user_tables(mm->pml4);
	mm->pml4 = 0;
	mm->nreg = 0;
}

/* As Linux's copy_page_range/copy_present_pte, for one region's range and
 * level by level, so only tables under the region are visited.  Page tables
 * are never shared: the child gets its own table for every parent table.
 * At the leaves no data moves: a writable PTE loses RW and gains COW in BOTH
 * address spaces, and the frame gains one reference for the child's PTE.
 * Read-only pages (text, rodata, the zero frame) are shared as they are, so
 * they stay read-only and a write to them is judged by the region alone.
 * Each child table is linked in before it is filled, so after a failure the
 * partial child tree is complete enough for free_user_tables() to undo. */
static int copy_range(uint64_t dst_pa, uint64_t src_pa, int level, uint64_t start, uint64_t end)
{
	pte_t *dst = phys_to_virt(dst_pa), *src = phys_to_virt(src_pa);
	int shift = 12 + 9 * (level - 1);

	if (level == 1) {
		/* The array's address in a local: with the atomic add below GCC
		 * reloads the global frame_refcount on every iteration (one more
		 * instruction per page, 15.0 instead of 13.9 per page in make
		 * bench). */
		uint32_t *refs = frame_refcount;
		for (uint64_t i = (start >> 12) & 511, n = i + ((end - start) >> 12); i < n; i++) {
			pte_t e = src[i];
			if (!(e & PTE_P))
				continue;
			if (e & PTE_RW) {
				e = (e & ~PTE_RW) | PTE_COW;
				src[i] = e;
			}
			/* frame_get() without its checks: this loop is fork's per-page
			 * cost.  Atomic all the same (a locked add, one instruction as
			 * the plain one was): forks on other CPUs share frames with
			 * this one (text, the zero frame), and a lost increment is a
			 * frame freed while still mapped. */
			__atomic_fetch_add(&refs[(e & PTE_ADDR) >> PAGE_SHIFT], 1, __ATOMIC_RELAXED);
			dst[i] = e;
		}
		return 0;
	}
	/* By index, so an empty slot costs a load and a test: a big region with
	 * few pages mapped (fork's fixed cost) is mostly empty slots up here. */
	uint64_t base = start & ~((1ull << (shift + 9)) - 1);
	for (uint64_t i = (start >> shift) & 511, last = ((end - 1) >> shift) & 511; i <= last; i++) {
		pte_t e = src[i];
		if (!(e & PTE_P))
			continue;
		uint64_t lo = MAX(start, base + (i << shift)), hi = MIN(end, base + ((i + 1) << shift));
		if (!(dst[i] & PTE_P)) {
			uint64_t t = pt_alloc(COWVMM_SITE_PT_PAGE);
			if (!t)
				return -ENOMEM;
			dst[i] = t | (e & (PTE_P | PTE_RW | PTE_US));
		}
		int r = copy_range(dst[i] & PTE_ADDR, e & PTE_ADDR, level - 1, lo, hi);
		if (r)
			return r;
	}
	return 0;
}

/* On failure dst is fully released again; src stays write-protected (as in
 * Linux), which is harmless: its next write finds refcount 1 and reuses. */
int copy_mm(struct mm *dst, struct mm *src)
{
	int r = mm_init(dst);
	if (r)
		return r;
	memcpy(dst->reg, src->reg, sizeof(src->reg));
	dst->nreg = src->nreg;
	dst->heap_start = src->heap_start;
	dst->brk = src->brk;
	dst->mmap_next = src->mmap_next;
	/* PTEs exist only inside regions (munmap and sbrk clear the rest) */
	for (int i = 0; i < src->nreg && !r; i++)
		r = copy_range(dst->pml4, src->pml4, 4, src->reg[i].start, src->reg[i].end);
	if (r)
		mm_release(dst);
	return r;
}
