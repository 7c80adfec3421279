/* guest/kernel/vma.c — regions of an address space (like Linux VMAs): they, not PTE bits, say what an access may do. */
#include "kernel.h"
#include "mm.h"

struct region *region_find(struct mm *mm, uint64_t va)
{
	/* Lean fault path (bench): faults come in runs on one region, so try
	 * the last hit first (as Linux's vmacache did).  Regions never overlap,
	 * so a cached slot that still contains va is the answer whatever
	 * changed since; a stale one simply fails the test.  Per mm, under its
	 * lock (a kernel-wide cache would be shared by every CPU). */
	int h = mm->hint;
	if (h < mm->nreg && va >= mm->reg[h].start && va < mm->reg[h].end)
		return &mm->reg[h];
	for (int i = 0; i < mm->nreg; i++)
		if (va >= mm->reg[i].start && va < mm->reg[i].end) {
			mm->hint = i;
			return &mm->reg[i];
		}
	return NULL;
}

static int overlaps(struct mm *mm, uint64_t start, uint64_t end)
{
	for (int i = 0; i < mm->nreg; i++)
		if (start < mm->reg[i].end && end > mm->reg[i].start)
			return 1;
	return 0;
}

int region_add(struct mm *mm, uint64_t start, uint64_t end, uint32_t prot, uint32_t kind)
{
	KASSERT(start < end && !(start & (PAGE_SIZE - 1)) && !(end & (PAGE_SIZE - 1)));
	if (overlaps(mm, start, end))
		return -EINVAL;
	if (mm->nreg == NREGION)
		return -ENOMEM;
	mm->reg[mm->nreg++] = (struct region){ start, end, prot, kind };
	return 0;
}

/* Make `addr` a region boundary (splitting the region that contains it). */
static int split_at(struct mm *mm, uint64_t addr)
{
	struct region *r = region_find(mm, addr);
	if (!r || r->start == addr)
		return 0;
	if (mm->nreg == NREGION)
		return -ENOMEM;
	struct region tail = *r;
	tail.start = addr;
	r->end = addr;
	mm->reg[mm->nreg++] = tail;
	return 0;
}

int region_remove(struct mm *mm, uint64_t start, uint64_t end)
{
	if (split_at(mm, start) || split_at(mm, end))
		return -ENOMEM;
	for (int i = 0; i < mm->nreg;) {
		if (mm->reg[i].start >= start && mm->reg[i].end <= end)
			mm->reg[i] = mm->reg[--mm->nreg];
		else
			i++;
	}
	return 0;
}

/* Every page of [start, end) must belong to some region (Linux: -ENOMEM). */
static int covered(struct mm *mm, uint64_t start, uint64_t end)
{
	for (uint64_t va = start; va < end;) {
		struct region *r = region_find(mm, va);
		if (!r)
			return 0;
		va = r->end;
	}
	return 1;
}

int region_protect(struct mm *mm, uint64_t start, uint64_t end, uint32_t prot)
{
	if (!covered(mm, start, end))
		return -ENOMEM;
	if (split_at(mm, start) || split_at(mm, end))
		return -ENOMEM;
	for (int i = 0; i < mm->nreg; i++)
		if (mm->reg[i].start >= start && mm->reg[i].end <= end)
			mm->reg[i].prot = (mm->reg[i].prot & PROT_EXEC_K) | prot;
	return 0;
}
