/* guest/kernel/vm.c — 4-level page tables: the kernel's shared half, walking, mapping, and tearing down the user half. */
#include "kernel.h"
#include "mm.h"
#include "x86.h"

/* Kernel tables live in the image (bss), so they exist before the allocator.
 * Every process's PML4 copies entries 256..511 from kernel_pml4: the PDPTs
 * below them are shared, so kernel mappings added later (kernel stacks) are
 * seen by every address space without touching any PML4. */
static pte_t kpml4[512] __attribute__((aligned(4096)));
static pte_t direct_pdpt[512] __attribute__((aligned(4096)));
static pte_t direct_pd[3][512] __attribute__((aligned(4096)));
static pte_t image_pdpt[512] __attribute__((aligned(4096)));
static pte_t image_pd[512] __attribute__((aligned(4096)));
static pte_t kstack_pdpt[512] __attribute__((aligned(4096)));
static pte_t kstack_pd[512] __attribute__((aligned(4096)));
static pte_t kstack_pt[512] __attribute__((aligned(4096)));
uint64_t kernel_pml4_pa;
/* The kernel half's used slots: set once in kernel_page_tables_init and
 * never changed after (later kernel mappings go into the shared tables below
 * them), so a process PML4 needs only these copied, and cleared again before
 * its page is reused. */
static int kslot[256], nkslot;
uint64_t pte_nx; /* PTE_NX when the CPU supports no-execute (read by leaf_flags, mm.h) */

/* Kernel stacks are mapped 4 KiB at a time here, with unmapped guard pages
 * between them, so an overflow faults instead of corrupting a neighbour. */
#define KSTACK_AREA 0xffffc90000000000ull
pte_t *kstack_ptes = kstack_pt;

#define IDX(va, level) (((va) >> (12 + 9 * ((level) - 1))) & 511)
#define KFLAGS (PTE_P | PTE_RW)
#define TABLE_FLAGS (PTE_P | PTE_RW | PTE_US)

/* Build the kernel's own page tables (direct map, image, kernel-stack area)
 * and switch CR3 from the VMM's boot tables to them.  When the CPU has NX
 * (cpu_init has turned EFER.NXE on, on every CPU), data pages (user, kernel
 * stacks) are mapped non-executable. */
void kernel_page_tables_init(void)
{
	if (cpu_has_nx()) {
		KASSERT(rdmsr(X86_MSR_EFER) & X86_EFER_NXE);
		pte_nx = PTE_NX;
	}

	/* Direct map of all RAM with 2 MiB pages. */
	uint64_t top = (boot.ram_size + (2ull << 20) - 1) & ~((2ull << 20) - 1);
	for (uint64_t pa = 0; pa < top; pa += 2ull << 20) {
		uint64_t g = pa >> 30, i = (pa >> 21) & 511;
		direct_pd[g][i] = pa | KFLAGS | PTE_PS;
		direct_pdpt[g] = virt_to_phys(direct_pd[g]) | KFLAGS;
	}
	/* The image: KERNEL_BASE maps the first GiB of RAM (only what exists). */
	for (uint64_t pa = 0; pa < top && pa < COWVMM_KERNEL_MAP_SIZE; pa += 2ull << 20)
		image_pd[pa >> 21] = pa | KFLAGS | PTE_PS;
	image_pdpt[IDX(COWVMM_KERNEL_BASE, 3)] = virt_to_phys(image_pd) | KFLAGS;
	kstack_pd[IDX(KSTACK_AREA, 2)] = virt_to_phys(kstack_pt) | KFLAGS;
	kstack_pdpt[IDX(KSTACK_AREA, 3)] = virt_to_phys(kstack_pd) | KFLAGS;

	kpml4[IDX(COWVMM_DIRECT_MAP_BASE, 4)] = virt_to_phys(direct_pdpt) | KFLAGS;
	kpml4[IDX(COWVMM_KERNEL_BASE, 4)] = virt_to_phys(image_pdpt) | KFLAGS;
	kpml4[IDX(KSTACK_AREA, 4)] = virt_to_phys(kstack_pdpt) | KFLAGS;
	kernel_pml4_pa = virt_to_phys(kpml4);
	for (int i = 256; i < 512; i++)
		if (kpml4[i])
			kslot[nkslot++] = i;
	write_cr3(kernel_pml4_pa);
}

/* Map or unmap one kernel-stack page; the caller flushes. */
uint64_t kstack_va(int slot, int page)
{
	/* slot i uses pages [i*(KSTACK_PAGES+1)+1, ...]; the first is a guard */
	return KSTACK_AREA + ((uint64_t)slot * 8 + 1 + (uint64_t)page) * PAGE_SIZE;
}

void kstack_map(uint64_t va, uint64_t pa)
{
	kstack_pt[IDX(va, 1)] = pa ? (pa | KFLAGS | pte_nx) : 0;
	invlpg(va);
}


static pte_t *table(uint64_t pa)
{
	return phys_to_virt(pa & PTE_ADDR);
}

/* The leaf PTE for user address va (< USER_TOP), creating missing tables when
 * alloc is set (each one an allocation that may fail: *oom = 1 then).  NULL if
 * absent or on failure. */
pte_t *walk(uint64_t pml4, uint64_t va, int alloc, int *oom)
{
	pte_t *t = table(pml4);
	for (int level = 4; level > 1; level--) {
		pte_t *e = &t[IDX(va, level)];
		if (!(*e & PTE_P)) {
			if (!alloc)
				return NULL;
			uint64_t pa = pt_alloc(COWVMM_SITE_PT_PAGE);
			if (!pa) {
				if (oom)
					*oom = 1;
				return NULL;
			}
			*e = pa | TABLE_FLAGS;
		}
		/* No PS test here (lean fault path, bench): every caller passes a
		 * user address, and nothing puts a large page in the user half
		 * (the VMM's page-table walker reports one if it ever appears). */
		t = table(*e);
	}
	return &t[IDX(va, 1)];
}

uint64_t pml4_create(void)
{
	uint64_t pa = pt_alloc(COWVMM_SITE_PT_PAGE);
	if (!pa)
		return 0;
	pte_t *t = table(pa);
	/* the page is zero: copying the used kernel slots copies the whole half */
	for (int k = 0; k < nkslot; k++)
		t[kslot[k]] = kpml4[kslot[k]];
	return pa;
}

/* Depth-first over a user subtree: drop each leaf's reference, free tables.
 * Every present entry is cleared on the way, and a PML4's kernel slots too;
 * a user entry is either present or zero (nothing writes a non-present
 * one), so each table goes back all zero and pt_alloc() may hand it out
 * again without a memset. */
static void free_level(uint64_t table_pa, int level)
{
	pte_t *t = table(table_pa);
	int n = level == 4 ? 256 : 512;
	for (int i = 0; i < n; i++) {
		if (!(t[i] & PTE_P))
			continue;
		if (level == 1)
			frame_put(t[i] & PTE_ADDR);
		else
			free_level(t[i] & PTE_ADDR, level - 1);
		t[i] = 0;
	}
	if (level == 4)
		for (int k = 0; k < nkslot; k++)
			t[kslot[k]] = 0;
	pt_free_zeroed(table_pa & PTE_ADDR);
}

void free_user_tables(uint64_t pml4)
{
	KASSERT(read_cr3() != pml4);
	free_level(pml4, 4);
}

int map_page(uint64_t pml4, uint64_t va, uint64_t pa, uint64_t flags)
{
	int oom = 0;
	pte_t *pte = walk(pml4, va, 1, &oom);
	if (!pte)
		return -ENOMEM;
	KASSERT(!(*pte & PTE_P));
	*pte = pa | flags;
	return 0;
}

/* munmap, sbrk shrink (mm->lock held): clear the PTEs, flush them on every
 * CPU that has mm loaded (one shootdown round), then drop the frames -- in
 * batches, so the frames wait in a small array rather than a list. */
#define UNMAP_BATCH 64
void unmap_range(struct mm *mm, uint64_t start, uint64_t end)
{
	uint64_t frames[UNMAP_BATCH];
	int n = 0;
	uint64_t batch_start = start;
	for (uint64_t va = start; va < end; va += PAGE_SIZE) {
		pte_t *pte = walk(mm->pml4, va, 0, NULL);
		if (!pte) {
			/* skip to the next page table's range */
			va = (va | ((1ull << 21) - 1)) - PAGE_SIZE + 1;
			continue;
		}
		if (*pte & PTE_P) {
			frames[n++] = *pte & PTE_ADDR;
			*pte = 0;
			if (n == UNMAP_BATCH) {
				tlb_flush_mm(mm, batch_start, va + PAGE_SIZE);
				for (int i = 0; i < n; i++)
					frame_put(frames[i]);
				n = 0;
				batch_start = va + PAGE_SIZE;
			}
		}
	}
	if (n) {
		tlb_flush_mm(mm, batch_start, end);
		for (int i = 0; i < n; i++)
			frame_put(frames[i]);
	}
}

static uint64_t count_level(uint64_t table_pa, int level)
{
	pte_t *t = table(table_pa);
	uint64_t n = 0;
	for (int i = 0; i < (level == 4 ? 256 : 512); i++)
		if (t[i] & PTE_P)
			n += level == 1 ? 1 : count_level(t[i], level - 1);
	return n;
}

uint64_t count_user_pages(uint64_t pml4)
{
	return count_level(pml4, 4);
}
