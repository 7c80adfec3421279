/* guest/kernel/frame.c — the physical frame allocator: a free list, a reference count and a pin count per frame. */
#include "kernel.h"
#include "mm.h"
#include "spinlock.h"

/* Both arrays are indexed by frame number over all of RAM, so the VMM can
 * read them without knowing the allocator's internals (HC_DESCRIBE). */
uint32_t *frame_refcount;
uint32_t *frame_pins;
uint64_t nframes, first_frame, free_frames, total_frames;
uint64_t zero_frame_pa;

/* Free frames are chained through their first 8 bytes (via the direct map).
 * frame_lock guards the list, the zeroed cache and free_frames; refcounts
 * and pins change with atomic instructions, so fork's per-page reference
 * (copy_range) costs no lock.  A frame's last reference is dropped by exactly
 * one CPU (the atomic decrement that reaches 0), which alone pushes it. */
static uint64_t free_head;
static struct spinlock frame_lock = SPINLOCK_INIT("frame");

static void free_push(uint64_t pa)
{
	*(uint64_t *)phys_to_virt(pa) = free_head;
	free_head = pa;
	free_frames++;
}

static void free_push_locked(uint64_t pa)
{
	spin_lock(&frame_lock);
	free_push(pa);
	spin_unlock(&frame_lock);
}

static int reserved_by_vmm(uint64_t pa)
{
	/* The fault-injection plan lives in RAM the VMM wrote before boot. */
	if (!boot.inject_gpa)
		return 0;
	uint64_t s = PAGE_DOWN(boot.inject_gpa);
	uint64_t e = PAGE_UP(boot.inject_gpa + sizeof(struct cowvmm_inject_plan));
	return pa >= s && pa < e;
}

void frames_init(uint64_t ram_size, uint64_t kernel_end)
{
	nframes = ram_size >> PAGE_SHIFT;
	uint64_t arrays = PAGE_UP(MAX(kernel_end, (uint64_t)COWVMM_BOOT_PT_END));
	uint64_t bytes = PAGE_UP(nframes * sizeof(uint32_t));
	/* Keep the two arrays clear of the VMM's injection plan. */
	if (boot.inject_gpa) {
		uint64_t s = PAGE_DOWN(boot.inject_gpa);
		uint64_t e = PAGE_UP(boot.inject_gpa + sizeof(struct cowvmm_inject_plan));
		if (s < arrays + 2 * bytes && e > arrays)
			arrays = e;
	}
	frame_refcount = phys_to_virt(arrays);
	frame_pins = phys_to_virt(arrays + bytes);
	memset(frame_refcount, 0, 2 * bytes);
	first_frame = (arrays + 2 * bytes) >> PAGE_SHIFT;
	if (first_frame >= nframes)
		panic("no RAM left for frames (ram %lu KiB)", ram_size >> 10);

	/* Push from the top so the lowest frames are handed out first. */
	for (uint64_t f = nframes; f-- > first_frame;) {
		uint64_t pa = f << PAGE_SHIFT;
		if (!reserved_by_vmm(pa))
			free_push(pa);
	}
	total_frames = free_frames;
}

/* Page-table pages come back from teardown already zero: free_level() (vm.c)
 * clears every present entry it visits, and an entry is present or zero
 * (only the VMM's pte:clear-p injection leaves a non-present one behind:
 * harmless in a reused table, as every reader tests P first and every writer
 * of an absent slot overwrites the whole entry).  A few such
 * frames are kept apart here, so the next page-table allocation -- fork builds
 * one per table of the parent -- skips its 512-iteration memset.  They stay
 * free in every sense the VMM checks (refcount 0, counted in free_frames), and
 * any allocation takes them when the free list runs dry, so no memory hides
 * here.  An array, not a list: a link written into the page would dirty it. */
#define ZCACHE_MAX 64
static uint64_t zcache[ZCACHE_MAX];
static int zcache_n;

/* Take a free frame (under frame_lock): refcount 1 (the caller's
 * reference), and a pin too for a kernel page -- in the same critical
 * section, so the VMM's audit never sees a kernel page without its pin. */
static inline __attribute__((always_inline)) uint64_t frame_take(uint64_t pa, uint32_t pins)
{
	uint64_t f = pa >> PAGE_SHIFT;
	KASSERT(frame_refcount[f] == 0 && frame_pins[f] == 0);
	frame_refcount[f] = 1;
	frame_pins[f] = pins;
	free_frames--;
	return pa;
}

static void zero_page(uint64_t pa)
{
	void *d = phys_to_virt(pa);
	uint64_t n = PAGE_SIZE / 8;
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0ull) : "memory");
}

/* Only when the free list is empty: the cached zeroed frames are free too. */
static __attribute__((noinline)) uint64_t frame_alloc_cached(uint32_t pins)
{
	return zcache_n ? frame_take(zcache[--zcache_n], pins) : 0;
}

/* Inlined into both allocators: the fault path's allocation stays lean. */
static inline __attribute__((always_inline)) uint64_t frame_pop(int site, uint32_t pins)
{
	if (should_fail(site))
		return 0;
	spin_lock(&frame_lock);
	uint64_t pa = free_head;
	if (__builtin_expect(!pa, 0))
		pa = frame_alloc_cached(pins);
	else {
		free_head = *(uint64_t *)phys_to_virt(pa);
		frame_take(pa, pins);
	}
	spin_unlock(&frame_lock);
	return pa;
}

uint64_t frame_alloc(int site)
{
	return frame_pop(site, 0);
}

uint64_t frame_alloc_zeroed(int site)
{
	uint64_t pa = frame_pop(site, 0);
	if (pa)
		zero_page(pa);
	return pa;
}

void frame_get(uint64_t pa)
{
	uint64_t f = pa >> PAGE_SHIFT;
	KASSERT(f >= first_frame && f < nframes && frame_refcount[f] > 0);
	__atomic_fetch_add(&frame_refcount[f], 1, __ATOMIC_RELAXED);
}

void frame_put(uint64_t pa)
{
	uint64_t f = pa >> PAGE_SHIFT;
	KASSERT(f >= first_frame && f < nframes);
	uint32_t old = __atomic_fetch_sub(&frame_refcount[f], 1, __ATOMIC_ACQ_REL);
	if (old == 0)
		panic("frame %#lx freed twice", f);
	if (old == 1) {
		KASSERT(frame_pins[f] == 0);
		free_push_locked(pa);
	}
}

/* Kernel-owned frames carry a pin so "refcount == PTEs + pins" holds for
 * every allocated frame, page tables and kernel stacks included. */
uint64_t kpage_alloc(int site)
{
	uint64_t pa = frame_pop(site, 1);
	if (pa)
		zero_page(pa);
	return pa;
}

/* A pinned kernel frame, contents undefined (kernel stacks). */
uint64_t kpage_alloc_nozero(int site)
{
	return frame_pop(site, 1);
}

void kpage_free(uint64_t pa)
{
	frame_unpin(pa);
}

/* A page table: as kpage_alloc, but from the zeroed cache when it has one. */
uint64_t pt_alloc(int site)
{
	if (!__atomic_load_n(&zcache_n, __ATOMIC_RELAXED))
		return kpage_alloc(site);
	if (should_fail(site))
		return 0;
	spin_lock(&frame_lock);
	uint64_t pa = zcache_n ? frame_take(zcache[--zcache_n], 1) : 0;
	spin_unlock(&frame_lock);
	return pa ? pa : kpage_alloc(-1); /* the cache emptied meanwhile; the site was asked */
}

/* The caller guarantees the table is all zero again (free_level). */
void pt_free_zeroed(uint64_t pa)
{
	uint64_t f = pa >> PAGE_SHIFT;
	KASSERT(f >= first_frame && f < nframes && frame_pins[f] == 1 && frame_refcount[f] == 1);
	spin_lock(&frame_lock);
	if (zcache_n == ZCACHE_MAX) {
		frame_pins[f] = 0;
		frame_refcount[f] = 0;
		free_push(pa);
	} else {
		frame_pins[f] = 0;
		frame_refcount[f] = 0;
		free_frames++;
		zcache[zcache_n++] = pa;
	}
	spin_unlock(&frame_lock);
}

/* Pin and unpin change both counts under frame_lock, so nobody (the VMM's
 * audit included) sees one changed without the other. */
void frame_pin(uint64_t pa)
{
	uint64_t f = pa >> PAGE_SHIFT;
	KASSERT(f >= first_frame && f < nframes && frame_refcount[f] > 0);
	spin_lock(&frame_lock);
	__atomic_fetch_add(&frame_refcount[f], 1, __ATOMIC_RELAXED);
	frame_pins[f]++;
	spin_unlock(&frame_lock);
}

void frame_unpin(uint64_t pa)
{
	uint64_t f = pa >> PAGE_SHIFT;
	KASSERT(f >= first_frame && f < nframes && frame_pins[f] > 0);
	spin_lock(&frame_lock);
	frame_pins[f]--;
	uint32_t old = __atomic_fetch_sub(&frame_refcount[f], 1, __ATOMIC_ACQ_REL);
	KASSERT(old > 0);
	if (old == 1)
		free_push(pa);
	spin_unlock(&frame_lock);
}

void copy_frame(uint64_t dst, uint64_t src)
{
	void *d = phys_to_virt(dst);
	const void *s = phys_to_virt(src);
	uint64_t n = PAGE_SIZE / 8;
	__asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}
