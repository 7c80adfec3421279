/* guest/kernel/frame.c — the physical frame allocator: a free list, a reference count and a pin count per frame. */
#include "kernel.h"
#include "mm.h"

/* Both arrays are indexed by frame number over all of RAM, so the VMM can
 * read them without knowing the allocator's internals (HC_DESCRIBE). */
uint32_t *frame_refcount;
uint32_t *frame_pins;
uint64_t nframes, first_frame, free_frames, total_frames;
uint64_t zero_frame_pa;

/* Free frames are chained through their first 8 bytes (via the direct map). */
static uint64_t free_head;

static void free_push(uint64_t pa)
{
	*(uint64_t *)phys_to_virt(pa) = free_head;
	free_head = pa;
	free_frames++;
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

/* Take a free frame: refcount 1 (the caller's reference). */
static inline __attribute__((always_inline)) uint64_t frame_take(uint64_t pa)
{
	uint64_t f = pa >> PAGE_SHIFT;
	KASSERT(frame_refcount[f] == 0 && frame_pins[f] == 0);
	frame_refcount[f] = 1;
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
static __attribute__((noinline)) uint64_t frame_alloc_cached(void)
{
	return zcache_n ? frame_take(zcache[--zcache_n]) : 0;
}

/* Inlined into both allocators: the fault path's allocation stays lean. */
static inline __attribute__((always_inline)) uint64_t frame_pop(int site)
{
	if (should_fail(site))
		return 0;
	uint64_t pa = free_head;
	if (__builtin_expect(!pa, 0))
		return frame_alloc_cached();
	free_head = *(uint64_t *)phys_to_virt(pa);
	return frame_take(pa);
}

uint64_t frame_alloc(int site)
{
	return frame_pop(site);
}

uint64_t frame_alloc_zeroed(int site)
{
	uint64_t pa = frame_pop(site);
	if (pa)
		zero_page(pa);
	return pa;
}

void frame_get(uint64_t pa)
{
	uint64_t f = pa >> PAGE_SHIFT;
	KASSERT(f >= first_frame && f < nframes && frame_refcount[f] > 0);
	frame_refcount[f]++;
}

void frame_put(uint64_t pa)
{
	uint64_t f = pa >> PAGE_SHIFT;
	KASSERT(f >= first_frame && f < nframes);
	if (frame_refcount[f] == 0)
		panic("frame %#lx freed twice", f);
	KASSERT(frame_refcount[f] > frame_pins[f]);
	if (--frame_refcount[f] == 0)
		free_push(pa);
}

/* Kernel-owned frames carry a pin so "refcount == PTEs + pins" holds for
 * every allocated frame, page tables and kernel stacks included. */
uint64_t kpage_alloc(int site)
{
	uint64_t pa = frame_alloc_zeroed(site);
	if (pa)
		frame_pins[pa >> PAGE_SHIFT] = 1;
	return pa;
}

void kpage_free(uint64_t pa)
{
	frame_unpin(pa);
}

/* A page table: as kpage_alloc, but from the zeroed cache when it has one. */
uint64_t pt_alloc(int site)
{
	if (!zcache_n)
		return kpage_alloc(site);
	if (should_fail(site))
		return 0;
	uint64_t pa = frame_take(zcache[--zcache_n]);
	frame_pins[pa >> PAGE_SHIFT] = 1;
	return pa;
}

/* The caller guarantees the table is all zero again (free_level). */
void pt_free_zeroed(uint64_t pa)
{
	uint64_t f = pa >> PAGE_SHIFT;
	KASSERT(f >= first_frame && f < nframes && frame_pins[f] == 1 && frame_refcount[f] == 1);
	if (zcache_n == ZCACHE_MAX) {
		kpage_free(pa);
		return;
	}
	frame_pins[f] = 0;
	frame_refcount[f] = 0;
	free_frames++;
	zcache[zcache_n++] = pa;
}

void frame_pin(uint64_t pa)
{
	frame_get(pa);
	frame_pins[pa >> PAGE_SHIFT]++;
}

void frame_unpin(uint64_t pa)
{
	uint64_t f = pa >> PAGE_SHIFT;
	KASSERT(f >= first_frame && f < nframes && frame_pins[f] > 0);
	frame_pins[f]--;
	frame_put(pa);
}

void copy_frame(uint64_t dst, uint64_t src)
{
	void *d = phys_to_virt(dst);
	const void *s = phys_to_virt(src);
	uint64_t n = PAGE_SIZE / 8;
	__asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}
