/* vmm/ptwalk.c — read-only walker of guest x86-64 4-level page tables, bounded against hostile tables. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cowvmm/abi.h"
#include "ptwalk.h"

static const int level_shift[5] = { 0, 12, 21, 30, 39 };

/* Large-page address bits that must be zero (bit 12 is PAT, bits 51:21/30 the frame). */
static const uint64_t ps_reserved[4] = { 0, 0, 0x00000000001fe000ull, 0x000000003fffe000ull };
static const uint64_t ps_addr_mask[4] = { 0, 0, 0x000fffffffe00000ull, 0x000fffffc0000000ull };

static uint64_t canon(uint64_t va48)
{
	return (uint64_t)((int64_t)(va48 << 16) >> 16);
}

bool ptw_canonical(uint64_t va)
{
	return canon(va & 0xffffffffffffull) == va;
}

struct walk {
	const struct gmem *m;
	const struct ptw_ops *ops;
	void *ctx;
	unsigned flags;
	uint64_t lo, hi;      /* 48-bit raw range, inclusive */
	uint8_t *visited;     /* one bit per RAM frame: table entered in this walk */
	unsigned visits;      /* tables entered (budget for PTW_F_SHARED_OK) */
	bool budget_reported;
};

static uint32_t eff_of(uint32_t eff, uint64_t e)
{
	if (!(e & COWVMM_PTE_RW))
		eff &= ~PTW_EFF_W;
	if (!(e & COWVMM_PTE_US))
		eff &= ~PTW_EFF_U;
	if (e & COWVMM_PTE_NX)
		eff |= PTW_EFF_NX;
	return eff;
}

static int fault(struct walk *w, enum ptw_error err, uint64_t va48, int level,
		 uint64_t entry, uint64_t entry_gpa, uint64_t target)
{
	if (!w->ops || !w->ops->fault)
		return 0;
	struct ptw_fault f = { err, canon(va48), level, entry, entry_gpa, target };
	return w->ops->fault(w->ctx, &f);
}

/* May the walk enter the table at gpa?  Reports why not (as a fault) otherwise. */
static int enter_check(struct walk *w, uint64_t gpa, uint64_t va48, int level,
		       uint64_t entry, uint64_t entry_gpa, bool *ok)
{
	*ok = false;
	if (!gmem_ptr(w->m, gpa, COWVMM_PAGE_SIZE))
		return fault(w, PTW_E_OUTSIDE_RAM, va48, level, entry, entry_gpa, gpa);
	uint64_t fn = gpa / COWVMM_PAGE_SIZE;
	bool seen = w->visited[fn / 8] & (1u << (fn % 8));
	if (seen && !(w->flags & PTW_F_SHARED_OK))
		return fault(w, PTW_E_REVISITED, va48, level, entry, entry_gpa, gpa);
	if (w->visits >= PTW_BUDGET) {
		if (w->budget_reported)
			return 0;
		w->budget_reported = true;
		return fault(w, PTW_E_BUDGET, va48, level, entry, entry_gpa, gpa);
	}
	w->visited[fn / 8] |= (uint8_t)(1u << (fn % 8));
	w->visits++;
	*ok = true;
	return 0;
}

static int walk_table(struct walk *w, uint64_t tgpa, int level, uint64_t base, uint32_t eff_in)
{
	int r;
	if (w->ops && w->ops->table && (r = w->ops->table(w->ctx, tgpa, level, canon(base))))
		return r == PTW_SKIP ? 0 : r;
	const uint8_t *t = gmem_ptr(w->m, tgpa, COWVMM_PAGE_SIZE);
	int shift = level_shift[level];
	uint64_t span = 1ull << shift;
	/* Only the slots that intersect [lo, hi]. */
	unsigned first = w->lo > base ? (unsigned)((w->lo - base) >> shift) : 0;
	uint64_t last64 = (w->hi - base) >> shift;
	unsigned last = last64 > 511 ? 511 : (unsigned)last64;
	for (unsigned i = first; i <= last; i++) {
		uint64_t e;
		memcpy(&e, t + 8 * i, 8);
		if (!(e & COWVMM_PTE_P))
			continue;
		uint64_t va = base + (uint64_t)i * span;
		uint64_t egpa = tgpa + 8 * i;
		uint32_t eff = eff_of(eff_in, e);
		bool ps = level > 1 && (e & COWVMM_PTE_PS);
		if (ps && (level == 4 || (e & ps_reserved[level]))) {
			if ((r = fault(w, PTW_E_RESERVED, va, level, e, egpa, e & COWVMM_PTE_ADDR)))
				return r;
			continue;
		}
		if (level == 1 || ps) {
			if (!w->ops || !w->ops->leaf)
				continue;
			struct ptw_leaf l = {
				.va = canon(va),
				.pa = e & (level == 1 ? COWVMM_PTE_ADDR : ps_addr_mask[level]),
				.size = span,
				.level = level,
				.eff = eff,
				.pte = e,
				.pte_gpa = egpa,
				.cow = (e & COWVMM_PTE_COW) != 0,
				.zero = (e & COWVMM_PTE_ZERO) != 0,
			};
			if ((r = w->ops->leaf(w->ctx, &l)))
				return r;
			continue;
		}
		uint64_t child = e & COWVMM_PTE_ADDR;
		bool ok;
		if ((r = enter_check(w, child, va, level, e, egpa, &ok)))
			return r;
		if (ok && (r = walk_table(w, child, level - 1, va, eff)))
			return r;
	}
	return 0;
}

int ptw_walk(const struct gmem *m, uint64_t cr3, uint64_t va_lo, uint64_t va_hi,
	     unsigned flags, const struct ptw_ops *ops, void *ctx)
{
	if (!ptw_canonical(va_lo) || !ptw_canonical(va_hi))
		return -EINVAL;
	struct walk w = { .m = m, .ops = ops, .ctx = ctx, .flags = flags,
			  .lo = va_lo & 0xffffffffffffull, .hi = va_hi & 0xffffffffffffull };
	if (w.lo > w.hi)
		return -EINVAL;
	w.visited = calloc(m->size / COWVMM_PAGE_SIZE / 8 + 1, 1);
	if (!w.visited)
		return -ENOMEM;
	uint64_t root = cr3 & COWVMM_PTE_ADDR;
	bool ok;
	int r = enter_check(&w, root, 0, 5, 0, 0, &ok);
	if (!r && ok)
		r = walk_table(&w, root, 4, 0, PTW_EFF_W | PTW_EFF_U);
	free(w.visited);
	return r;
}

enum ptw_error ptw_translate(const struct gmem *m, uint64_t cr3, uint64_t va,
			     struct ptw_leaf *leaf, uint64_t *gpa, struct ptw_fault *f)
{
	struct ptw_fault tmp;
	if (!f)
		f = &tmp;
	memset(f, 0, sizeof *f);
	f->va = va;
	if (!ptw_canonical(va))
		return f->err = PTW_E_NONCANONICAL;
	uint64_t tgpa = cr3 & COWVMM_PTE_ADDR;
	uint32_t eff = PTW_EFF_W | PTW_EFF_U;
	f->level = 5;
	for (int level = 4; level >= 1; level--) {
		const uint8_t *t = gmem_ptr(m, tgpa, COWVMM_PAGE_SIZE);
		if (!t) {
			f->target_gpa = tgpa;
			return f->err = PTW_E_OUTSIDE_RAM;
		}
		unsigned i = ptw_index(va, level);
		uint64_t e;
		memcpy(&e, t + 8 * i, 8);
		f->level = level;
		f->entry = e;
		f->entry_gpa = tgpa + 8 * i;
		f->target_gpa = e & COWVMM_PTE_ADDR;
		if (!(e & COWVMM_PTE_P))
			return f->err = PTW_E_NOT_PRESENT;
		eff = eff_of(eff, e);
		bool ps = level > 1 && (e & COWVMM_PTE_PS);
		if (ps && (level == 4 || (e & ps_reserved[level])))
			return f->err = PTW_E_RESERVED;
		if (level == 1 || ps) {
			uint64_t size = 1ull << level_shift[level];
			struct ptw_leaf l = {
				.va = va & ~(size - 1),
				.pa = e & (level == 1 ? COWVMM_PTE_ADDR : ps_addr_mask[level]),
				.size = size, .level = level, .eff = eff, .pte = e,
				.pte_gpa = f->entry_gpa,
				.cow = (e & COWVMM_PTE_COW) != 0, .zero = (e & COWVMM_PTE_ZERO) != 0,
			};
			if (leaf)
				*leaf = l;
			if (gpa)
				*gpa = l.pa + (va & (size - 1));
			return f->err = PTW_E_NONE;
		}
		tgpa = e & COWVMM_PTE_ADDR;
	}
	return f->err = PTW_E_NOT_PRESENT; /* not reached */
}

/* Merging state for ptw_ranges(). */
struct merge {
	int (*range)(void *ctx, const struct ptw_range *r);
	int (*fault)(void *ctx, const struct ptw_fault *f);
	void *ctx;
	bool open;
	struct ptw_range cur;
};

static int merge_leaf(void *ctx, const struct ptw_leaf *l)
{
	struct merge *g = ctx;
	if (g->open && g->cur.end == l->va && g->cur.eff == l->eff && g->cur.cow == l->cow) {
		g->cur.end += l->size;
		g->cur.pages += l->size / COWVMM_PAGE_SIZE;
		return 0;
	}
	int r = g->open ? g->range(g->ctx, &g->cur) : 0;
	g->open = true;
	g->cur = (struct ptw_range){ l->va, l->va + l->size, l->eff, l->cow, l->size / COWVMM_PAGE_SIZE };
	return r;
}

static int merge_fault(void *ctx, const struct ptw_fault *f)
{
	struct merge *g = ctx;
	return g->fault ? g->fault(g->ctx, f) : 0;
}

int ptw_ranges(const struct gmem *m, uint64_t cr3, uint64_t va_lo, uint64_t va_hi,
	       unsigned flags, int (*range)(void *ctx, const struct ptw_range *r),
	       int (*fault_cb)(void *ctx, const struct ptw_fault *f), void *ctx)
{
	struct merge g = { .range = range, .fault = fault_cb, .ctx = ctx };
	const struct ptw_ops ops = { .leaf = merge_leaf, .fault = merge_fault };
	int r = ptw_walk(m, cr3, va_lo, va_hi, flags, &ops, &g);
	if (!r && g.open)
		r = range(ctx, &g.cur);
	return r;
}

static const char *const error_names[PTW_E_COUNT] = {
	[PTW_E_NONE] = "none",
	[PTW_E_NOT_PRESENT] = "not-present",
	[PTW_E_NONCANONICAL] = "non-canonical",
	[PTW_E_OUTSIDE_RAM] = "table-outside-ram",
	[PTW_E_RESERVED] = "reserved-bits",
	[PTW_E_REVISITED] = "table-revisited",
	[PTW_E_BUDGET] = "walk-budget-exceeded",
};

const char *ptw_error_name(enum ptw_error e)
{
	return (unsigned)e < PTW_E_COUNT ? error_names[e] : "?";
}

const char *ptw_flags_str(uint32_t eff, bool cow, char *buf)
{
	buf[0] = eff & PTW_EFF_U ? 'u' : 's';
	buf[1] = 'r';
	buf[2] = eff & PTW_EFF_W ? 'w' : '-';
	buf[3] = eff & PTW_EFF_NX ? '-' : 'x';
	buf[4] = cow ? 'c' : '-';
	buf[5] = 0;
	return buf;
}
