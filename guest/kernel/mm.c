/* guest/kernel/mm.c — whole address spaces: create, release, and fork's copy_mm (share every page copy-on-write). */
#include "kernel.h"
#include "mm.h"
#include "x86.h"

int mm_init(struct mm *mm)
{
	memset(mm, 0, sizeof(*mm));
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

/* As Linux's copy_page_range/copy_present_pte, level by level.  Page tables
 * are never shared: the child gets its own table for every parent table.
 * At the leaves no data moves: a writable PTE loses RW and gains COW in BOTH
 * address spaces, and the frame gains one reference for the child's PTE.
 * Read-only pages (text, rodata, the zero frame) are shared as they are, so
 * they stay read-only and a write to them is judged by the region alone.
 * Each child table is linked in before it is filled, so after a failure the
 * partial child tree is complete enough for free_user_tables() to undo. */
static int copy_level(uint64_t dst_pa, uint64_t src_pa, int level)
{
	pte_t *dst = phys_to_virt(dst_pa), *src = phys_to_virt(src_pa);
	int n = level == 4 ? 256 : 512; /* the kernel half is already shared */

	for (int i = 0; i < n; i++) {
		pte_t e = src[i];
		if (!(e & PTE_P))
			continue;
		if (level == 1) {
			if (e & PTE_RW) {
				e = (e & ~PTE_RW) | PTE_COW;
				src[i] = e;
			}
			frame_get(e & PTE_ADDR);
			dst[i] = e;
			continue;
		}
		uint64_t t = kpage_alloc(COWVMM_SITE_PT_PAGE);
		if (!t)
			return -ENOMEM;
		dst[i] = t | (e & (PTE_P | PTE_RW | PTE_US));
		int r = copy_level(t, e & PTE_ADDR, level - 1);
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
	r = copy_level(dst->pml4, src->pml4, 4);
	if (r)
		mm_release(dst);
	return r;
}
