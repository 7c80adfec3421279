/* guest/kernel/sysmem.c — memory system calls: sbrk, anonymous mmap, munmap, mprotect, and the introspection calls tests use. */
#include "kernel.h"
#include "mm.h"
#include "cpu.h"
#include "proc.h"
#include "spinlock.h"
#include "syscalls.h"
#include "x86.h"

#define HEAP_LIMIT USER_MMAP_BASE
#define MMAP_LIMIT (USER_STACK_TOP - USER_STACK_PAGES * PAGE_SIZE - (1ull << 30))

static struct region *heap_region(struct mm *mm)
{
	for (int i = 0; i < mm->nreg; i++)
		if (mm->reg[i].kind == RK_HEAP)
			return &mm->reg[i];
	return NULL;
}

/* Pages are not allocated here: the first touch faults them in (zero frame
 * on read, a zeroed frame on write), as Linux's anonymous memory. */
static long do_sbrk(struct mm *mm, uint64_t a0);

/* Every memory call works under mm->lock: the threads of a process share
 * the regions and page tables. */
SYSCALL(sbrk)
{
	UNUSED_ARGS();
	struct mm *mm = curproc->mm;
	spin_lock(&mm->lock);
	long r = do_sbrk(mm, a0);
	spin_unlock(&mm->lock);
	return r;
}

static long do_sbrk(struct mm *mm, uint64_t a0)
{
	int64_t inc = (int64_t)a0;
	uint64_t old = mm->brk, new = old + (uint64_t)inc;
	if ((inc > 0 && new < old) || (inc < 0 && new > old) || new < mm->heap_start || new > HEAP_LIMIT)
		return -ENOMEM;
	uint64_t old_end = PAGE_UP(old), new_end = PAGE_UP(new);
	struct region *h = heap_region(mm);
	if (new_end > old_end) {
		for (int i = 0; i < mm->nreg; i++)
			if (&mm->reg[i] != h && mm->reg[i].start < new_end && mm->reg[i].end > old_end)
				return -ENOMEM;
		if (h)
			h->end = new_end;
		else if (region_add(mm, mm->heap_start, new_end, PROT_READ | PROT_WRITE, RK_HEAP))
			return -ENOMEM;
	} else if (new_end < old_end) {
		unmap_range(mm, new_end, old_end);
		KASSERT(h);
		if (new_end == h->start)
			region_remove(mm, h->start, h->end);
		else
			h->end = new_end;
	}
	mm->brk = new;
	return (long)old;
}

SYSCALL(mmap)
{
	UNUSED_ARGS();
	struct mm *mm = curproc->mm;
	uint64_t len = PAGE_UP(a0);
	uint32_t prot = (uint32_t)a1;
	if (!a0 || !len || (prot & ~(uint32_t)(PROT_READ | PROT_WRITE)))
		return -EINVAL;
	spin_lock(&mm->lock);
	long r = -ENOMEM;
	uint64_t start = mm->mmap_next;
	if (len <= MMAP_LIMIT - start && !(r = region_add(mm, start, start + len, prot, RK_MMAP))) {
		mm->mmap_next = start + len + PAGE_SIZE; /* an unmapped guard page between mappings */
		r = (long)start;
	}
	spin_unlock(&mm->lock);
	return r;
}

SYSCALL(munmap)
{
	UNUSED_ARGS();
	struct mm *mm = curproc->mm;
	uint64_t start = a0, end = a0 + PAGE_UP(a1);
	if ((start & (PAGE_SIZE - 1)) || !a1 || end < start || end > USER_TOP)
		return -EINVAL;
	spin_lock(&mm->lock);
	int r = region_remove(mm, start, end);
	if (!r)
		unmap_range(mm, start, end);
	spin_unlock(&mm->lock);
	return r;
}

/* Region permissions change; present PTEs follow.  Granting write never
 * sets RW directly: the page may be shared, so it becomes COW and the fault
 * handler decides between reuse and copy from the reference count. */
SYSCALL(mprotect)
{
	UNUSED_ARGS();
	struct mm *mm = curproc->mm;
	uint64_t start = a0, end = a0 + PAGE_UP(a1);
	uint32_t prot = (uint32_t)a2;
	if ((start & (PAGE_SIZE - 1)) || end < start || end > USER_TOP || (prot & ~(uint32_t)(PROT_READ | PROT_WRITE)))
		return -EINVAL;
	spin_lock(&mm->lock);
	int r = region_protect(mm, start, end, prot);
	if (r) {
		spin_unlock(&mm->lock);
		return r;
	}
	for (uint64_t va = start; va < end; va += PAGE_SIZE) {
		pte_t *pte = walk(mm->pml4, va, 0, NULL);
		if (!pte || !(*pte & PTE_P))
			continue;
		struct region *reg = region_find(mm, va);
		pte_t e = (*pte & (PTE_ADDR | PTE_COW | PTE_ZERO | PTE_A | PTE_D | PTE_RW)) |
			  (leaf_flags(reg->prot) & ~PTE_RW);
		if (!(prot & PROT_WRITE))
			e &= ~PTE_RW;
		else if (!(e & PTE_RW) && !(e & PTE_ZERO))
			e |= PTE_COW;
		if (!(prot & (PROT_READ | PROT_WRITE)))
			e &= ~PTE_US;
		*pte = e;
	}
	/* Downgrades (write or access removed) must leave every CPU's TLB. */
	tlb_flush_mm(mm, start, end);
	spin_unlock(&mm->lock);
	return 0;
}

SYSCALL(meminfo)
{
	UNUSED_ARGS();
	struct cow_meminfo mi = {
		.total_frames = total_frames,
		.free_frames = free_frames,
		.forks = stats.forks,
		.fork_failures = stats.fork_failures,
		.cow_copies = stats.cow_copies,
		.cow_reuses = stats.cow_reuses,
		.zero_fills = stats.zero_fills,
		.oom_kills = stats.oom_kills,
		.segv_kills = stats.segv_kills,
		.spurious_faults = stats.spurious_faults,
		.ncpus = ncpus,
		.timer_ticks = stats.timer_ticks,
		.preemptions = stats.preemptions,
		.ipis_sent = stats.ipis_sent,
		.tlb_shootdowns = stats.tlb_shootdowns,
		.cow_races = stats.cow_races,
		.threads = stats.threads,
		.own_cow_copies = curproc->own_copies,
		.own_cow_reuses = curproc->own_reuses,
		.own_zero_fills = curproc->own_zero_fills,
	};
	for (int i = 0; i < NPROC; i++)
		if (proctab[i].state != COWVMM_PSTATE_UNUSED)
			mi.nprocs++;
	return copy_to_user(a0, &mi, sizeof(mi));
}

SYSCALL(vmquery)
{
	UNUSED_ARGS();
	struct mm *mm = curproc->mm;
	struct cow_vmquery q;
	memset(&q, 0, sizeof(q));
	spin_lock(&mm->lock);
	if (a0 < USER_TOP) {
		pte_t *pte = walk(mm->pml4, PAGE_DOWN(a0), 0, NULL);
		if (pte && (*pte & PTE_P)) {
			q.pte = *pte;
			q.frame = (*pte & PTE_ADDR) >> PAGE_SHIFT;
			q.refcount = frame_ref(*pte & PTE_ADDR);
			q.present = 1;
			q.writable = (*pte & PTE_RW) != 0;
			q.cow = (*pte & PTE_COW) != 0;
			q.zero = (*pte & PTE_ZERO) != 0;
		}
		struct region *r = region_find(mm, a0);
		q.region_writable = r && (r->prot & PROT_WRITE);
	}
	spin_unlock(&mm->lock);
	return copy_to_user(a1, &q, sizeof(q));
}

/* A long-lived kernel reference, as get_user_pages would take. */
SYSCALL(pin)
{
	UNUSED_ARGS();
	struct proc *p = curproc;
	int h = 0;
	while (h < NPIN && p->pinned[h])
		h++;
	if (h == NPIN)
		return -EMFILE;
	uint8_t probe;
	if (copy_from_user(&probe, a0, 1)) /* faults the page in if needed */
		return -EFAULT;
	/* Under the lock: the page cannot go (another thread's munmap) between
	 * the walk and the pin.  Absent again already: as if never there. */
	spin_lock(&p->mm->lock);
	pte_t *pte = walk(p->mm->pml4, PAGE_DOWN(a0), 0, NULL);
	if (!pte || !(*pte & PTE_P)) {
		spin_unlock(&p->mm->lock);
		return -EFAULT;
	}
	p->pinned[h] = *pte & PTE_ADDR;
	frame_pin(p->pinned[h]);
	spin_unlock(&p->mm->lock);
	return h;
}

SYSCALL(unpin)
{
	UNUSED_ARGS();
	int h = (int)a0;
	if (h < 0 || h >= NPIN || !curproc->pinned[h])
		return -EBADF;
	frame_unpin(curproc->pinned[h]);
	curproc->pinned[h] = 0;
	return 0;
}

/* What a reader of the pinned reference (a pipe that vmspliced it) sees. */
SYSCALL(pinread)
{
	UNUSED_ARGS();
	int h = (int)a0;
	if (h < 0 || h >= NPIN || !curproc->pinned[h])
		return -EBADF;
	uint64_t n = MIN(a2, PAGE_SIZE);
	if (copy_to_user(a1, phys_to_virt(curproc->pinned[h]), n))
		return -EFAULT;
	return (long)n;
}
