/* guest/kernel/mm.h — physical frames with reference counts, page tables, and address-space regions. */
#ifndef GUEST_MM_H
#define GUEST_MM_H

#include "kernel.h"
#include "spinlock.h"

typedef uint64_t pte_t;

#define PTE_P COWVMM_PTE_P
#define PTE_RW COWVMM_PTE_RW
#define PTE_US COWVMM_PTE_US
#define PTE_A COWVMM_PTE_A
#define PTE_D COWVMM_PTE_D
#define PTE_PS COWVMM_PTE_PS
#define PTE_COW COWVMM_PTE_COW
#define PTE_ZERO COWVMM_PTE_ZERO
#define PTE_NX COWVMM_PTE_NX
#define PTE_ADDR COWVMM_PTE_ADDR

/* ---- frames (frame.c) ------------------------------------------------------
 * refcount[f] counts EVERY reference to frame f: one per PTE mapping it in any
 * address space plus one per kernel pin (pins[f] counts those separately).
 * Frames the kernel owns outright (page tables, kernel stacks, pipe buffers,
 * the zero frame) are allocated pinned: refcount 1, pins 1.  A free frame has
 * refcount 0.  So refcount == 1 means "exactly one PTE and nothing else". */
extern uint32_t *frame_refcount;
extern uint32_t *frame_pins;
extern uint64_t nframes, first_frame, free_frames, total_frames;
extern uint64_t zero_frame_pa;

void frames_init(uint64_t ram_size, uint64_t kernel_end);
uint64_t frame_alloc(int site);        /* refcount 1 (the caller's reference), 0 on failure */
uint64_t frame_alloc_zeroed(int site);
void frame_get(uint64_t pa);           /* one more reference */
void frame_put(uint64_t pa);           /* drop one; frees at 0 */
uint64_t kpage_alloc(int site);        /* zeroed, pinned kernel frame */
uint64_t kpage_alloc_nozero(int site); /* pinned kernel frame, contents undefined */
void kpage_free(uint64_t pa);
uint64_t pt_alloc(int site);           /* a page table: zeroed, pinned (often from a cache of zeroed ones) */
void pt_free_zeroed(uint64_t pa);      /* give back a page table whose entries are all zero again */
void frame_pin(uint64_t pa);           /* kernel reference to a user frame */
void frame_unpin(uint64_t pa);
static inline uint32_t frame_ref(uint64_t pa) { return frame_refcount[pa >> PAGE_SHIFT]; }
void copy_frame(uint64_t dst, uint64_t src);

/* ---- page tables (vm.c) --------------------------------------------------- */
extern uint64_t kernel_pml4_pa;
void kernel_page_tables_init(void);    /* the kernel's own tables (kernel half shared by all), NX */
pte_t *walk(uint64_t pml4, uint64_t va, int alloc, int *oom);
/*
 * The fault path's walk: the leaf PTE's address when the three upper levels
 * are present, else NULL (the caller then takes walk(), which allocates the
 * missing tables).  Unrolled and inline: through walk() -- a call, six saved
 * registers, a loop with the allocation test at each level -- it cost 45
 * instructions more per COW or reuse fault (cowbench quick, icount: reuse
 * write 281 -> 236, COW write 952 -> 911, zero fill handler 851 -> 808).  No PS test, as walk(): nothing
 * puts a large page in the user half.
 */
static inline pte_t *walk_present(uint64_t pml4, uint64_t va)
{
	pte_t e = ((pte_t *)phys_to_virt(pml4 & PTE_ADDR))[(va >> 39) & 511];
	if (__builtin_expect(!(e & PTE_P), 0))
		return NULL;
	e = ((pte_t *)phys_to_virt(e & PTE_ADDR))[(va >> 30) & 511];
	if (__builtin_expect(!(e & PTE_P), 0))
		return NULL;
	e = ((pte_t *)phys_to_virt(e & PTE_ADDR))[(va >> 21) & 511];
	if (__builtin_expect(!(e & PTE_P), 0))
		return NULL;
	return &((pte_t *)phys_to_virt(e & PTE_ADDR))[(va >> 12) & 511];
}
uint64_t pml4_create(void);            /* user half empty, kernel half shared; 0 if no memory */
void free_user_tables(uint64_t pml4);  /* drops every leaf reference, frees every table */
int map_page(uint64_t pml4, uint64_t va, uint64_t pa, uint64_t flags); /* 0 / -ENOMEM */
struct mm;
void unmap_range(struct mm *mm, uint64_t start, uint64_t end);
uint64_t count_user_pages(uint64_t pml4);
uint64_t kstack_va(int slot, int page);
void kstack_map(uint64_t va, uint64_t pa);   /* pa 0 unmaps */

/* ---- regions (vma.c): what the process may do with an address ------------ */
enum region_kind { RK_TEXT, RK_RODATA, RK_DATA, RK_HEAP, RK_STACK, RK_MMAP };
struct region {
	uint64_t start, end; /* [start, end), page aligned */
	uint32_t prot;       /* PROT_READ | PROT_WRITE | PROT_EXEC_K */
	uint32_t kind;       /* enum region_kind */
};
#define PROT_EXEC_K 4u
#define NREGION 32

/* One address space, shared by the threads of a process.  `lock` guards the
 * regions and the page tables (Linux's mmap_lock and page-table lock in one:
 * spinlock.h).  `cpumask` has bit i set while CPU i's CR3 points at pml4
 * (switch_mm in sched.c; Linux's mm_cpumask): a TLB shootdown interrupts
 * exactly those CPUs (tlb.c).  `users` counts its threads (under sched_lock):
 * the last one to exit releases it. */
struct mm {
	struct spinlock lock;
	uint32_t cpumask;
	int users;
	uint64_t pml4;       /* physical root; 0 once released */
	struct region reg[NREGION];
	int nreg;
	int hint;            /* index of the region found last (region_find) */
	uint64_t heap_start, brk;
	uint64_t mmap_next;
};

struct region *region_find(struct mm *mm, uint64_t va);
int region_add(struct mm *mm, uint64_t start, uint64_t end, uint32_t prot, uint32_t kind);
int region_remove(struct mm *mm, uint64_t start, uint64_t end);
int region_protect(struct mm *mm, uint64_t start, uint64_t end, uint32_t prot);
/* PTE flags for a private page of a region.  Inline: every COW copy and
 * fill computes them, and as a call it cost 6 instructions more per COW
 * fault (the call, and the PTE pointer and new frame spilled around it;
 * cowbench quick, icount: COW write 958 -> 952, zero fill 857 -> 851). */
extern uint64_t pte_nx;                /* PTE_NX when the CPU supports no-execute (vm.c) */
static inline uint64_t leaf_flags(uint32_t prot)
{
	uint64_t f = PTE_P | PTE_US;
	if (prot & PROT_WRITE)
		f |= PTE_RW;
	if (!(prot & PROT_EXEC_K))
		f |= pte_nx;
	return f;
}

/* ---- address spaces (mm.c) ------------------------------------------------ */
int mm_init(struct mm *mm);                         /* empty address space */
void mm_release(struct mm *mm);                     /* give back every frame */
int copy_mm(struct mm *dst, struct mm *src);        /* fork: share everything COW */

/* ---- faults (fault.c) ----------------------------------------------------- */
enum fault_result {
	FAULT_OK, FAULT_SEGV, FAULT_OOM,
	FAULT_RETRY,                          /* internal: the PTE changed under us, look again */
};
struct proc;
int handle_mm_fault(struct proc *p, uint64_t va, uint32_t err);

/* ---- TLB shootdown (tlb.c) -------------------------------------------------
 * After downgrading or removing PTEs of mm (mm->lock held, interrupts on),
 * and BEFORE dropping the references of the frames they mapped: flush
 * [start, end) -- end 0: everything -- on every CPU that has mm loaded, this
 * one included, and wait until each has.  An mm loaded nowhere else costs no
 * IPI.  Linux's flush_tlb_mm_range, in Linux's order: a frame freed before
 * the flush could be reused while a stale TLB entry elsewhere still maps it. */
void tlb_flush_mm(struct mm *mm, uint64_t start, uint64_t end);
void tlb_shootdown_interrupt(void);    /* the IPI's handler (trap.c) */

/* One page, as tlb_flush_mm(mm, va, va + PAGE_SIZE): the flush of every COW
 * break and first touch.  For an mm loaded on this CPU alone -- every
 * single-threaded process -- that is one invlpg, done inline after the
 * fence and the mask test: through tlb_flush_mm it cost 36 instructions more
 * per COW fault (make bench, icount: COW write 1,087 -> 1,051 ticks). */
static inline void tlb_flush_page(struct mm *mm, uint64_t va)
{
	/* The PTE store before the read of the mask (as in tlb_flush_mm). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__builtin_expect(__atomic_load_n(&mm->cpumask, __ATOMIC_RELAXED) == 1u << this_cpu_id(), 1)) {
		__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
		return;
	}
	tlb_flush_mm(mm, va, va + PAGE_SIZE);
}

/* The whole address space, as tlb_flush_mm(mm, 0, 0): fork's flush of the
 * parent it write-protected.  Loaded on this CPU alone (a single-threaded
 * parent), that is a CR3 reload here, after the same fence and mask test.
 * Through tlb_flush_mm it cost 28 instructions more per fork (cowbench
 * quick, icount: fork at 1 page 6,852 -> 6,824). */
static inline void tlb_flush_mm_all(struct mm *mm)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__builtin_expect(__atomic_load_n(&mm->cpumask, __ATOMIC_RELAXED) == 1u << this_cpu_id(), 1)) {
		uint64_t cr3;
		__asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
		return;
	}
	tlb_flush_mm(mm, 0, 0);
}

/* ---- user copies (uaccess.c / uaccess.S) ---------------------------------- */
int copy_to_user(uint64_t udst, const void *src, uint64_t n);   /* 0 / -EFAULT */
int copy_from_user(void *dst, uint64_t usrc, uint64_t n);
int strncpy_from_user(char *dst, uint64_t usrc, uint64_t n);    /* length or -EFAULT/-EINVAL */
long copy_user_raw(void *dst, const void *src, uint64_t n);     /* asm: faults are fixed up */
extern char copy_user_begin[], copy_user_end[], copy_user_fixup[];

#endif
