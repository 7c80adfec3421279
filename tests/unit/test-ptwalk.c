/* tests/unit/test-ptwalk.c — the page-table walker on synthetic tables in a fake guest RAM (TAP). */
#include <errno.h>
#include <time.h>

#include "fakeguest.h"

#define RAM (8ull << 20)
#define U (COWVMM_PTE_RW | COWVMM_PTE_US)

/* Everything a walk reported, for the assertions. */
struct rec {
	struct ptw_leaf leaf[64];
	int nleaf;
	struct ptw_fault fault[600];
	int nfault;
	int ntables;
	struct ptw_range range[16];
	int nrange;
};

static int rec_leaf(void *ctx, const struct ptw_leaf *l)
{
	struct rec *r = ctx;
	if (r->nleaf < 64)
		r->leaf[r->nleaf] = *l;
	r->nleaf++;
	return 0;
}

static int rec_fault(void *ctx, const struct ptw_fault *f)
{
	struct rec *r = ctx;
	if (r->nfault < 600)
		r->fault[r->nfault] = *f;
	r->nfault++;
	return 0;
}

static int rec_table(void *ctx, uint64_t gpa, int level, uint64_t va)
{
	(void)gpa; (void)level; (void)va;
	((struct rec *)ctx)->ntables++;
	return 0;
}

static int rec_range(void *ctx, const struct ptw_range *rg)
{
	struct rec *r = ctx;
	if (r->nrange < 16)
		r->range[r->nrange] = *rg;
	r->nrange++;
	return 0;
}

static const struct ptw_ops rec_ops = { rec_table, rec_leaf, rec_fault };

static void walk(struct fake *f, uint64_t root, uint64_t lo, uint64_t hi, unsigned flags,
		 struct rec *r, int *ret)
{
	memset(r, 0, sizeof *r);
	*ret = ptw_walk(&f->m, root, lo, hi, flags, &rec_ops, r);
}

static void test_sizes(void)
{
	struct fake f;
	fake_init(&f, RAM, 0x100000, 0x200000);
	uint64_t root = fake_table(&f);
	fake_map(&f, root, 0x400000, 0x300000, U, 1);
	fake_map(&f, root, 0x40000000ull * 2 + 0x200000, 0x400000, U, 2);   /* 2 MiB */
	fake_map(&f, root, 0x40000000ull * 5, 0x40000000, COWVMM_PTE_US, 3); /* 1 GiB, RO */

	struct rec r;
	int ret;
	walk(&f, root, PTW_USER_LO, PTW_USER_HI, 0, &r, &ret);
	EQ(ret, 0, "walk of three page sizes completes");
	EQ(r.nleaf, 3, "three leaves");
	EQ(r.nfault, 0, "no faults");
	EQ(r.ntables, 1 + 1 + 1 + 1 + 1 + 0, "tables entered: PML4, PDPT, two PDs, one PT");
	EQ(r.leaf[0].va, 0x400000, "4K leaf VA");
	EQ(r.leaf[0].pa, 0x300000, "4K leaf PA");
	EQ(r.leaf[0].size, 4096, "4K leaf size");
	EQ(r.leaf[0].level, 1, "4K leaf level");
	EQ(r.leaf[1].size, 2u << 20, "2M leaf size");
	EQ(r.leaf[1].level, 2, "2M leaf level");
	EQ(r.leaf[1].pa, 0x400000, "2M leaf PA");
	EQ(r.leaf[2].size, 1u << 30, "1G leaf size");
	EQ(r.leaf[2].eff, PTW_EFF_U, "1G leaf is user read-only");

	uint64_t gpa;
	struct ptw_leaf l;
	EQ(ptw_translate(&f.m, root, 0x400123, &l, &gpa, NULL), PTW_E_NONE, "translate 4K");
	EQ(gpa, 0x300123, "4K translation keeps the offset");
	EQ(ptw_translate(&f.m, root, 0x80200000ull + 0x12345, &l, &gpa, NULL), PTW_E_NONE, "translate 2M");
	EQ(gpa, 0x400000 + 0x12345, "2M translation");
	EQ(l.va, 0x80200000ull, "2M leaf base VA");
	EQ(ptw_translate(&f.m, root, 0x140000000ull + 0x3456789, &l, &gpa, NULL), PTW_E_NONE, "translate 1G");
	EQ(gpa, 0x40000000 + 0x3456789, "1G translation");
	struct ptw_fault ft;
	EQ(ptw_translate(&f.m, root, 0x401000, &l, &gpa, &ft), PTW_E_NOT_PRESENT, "unmapped 4K is not present");
	EQ(ft.level, 1, "not present at the PTE level");
	EQ(ptw_translate(&f.m, root, 0x7f0000000000ull, &l, &gpa, &ft), PTW_E_NOT_PRESENT, "no PML4E: not present");
	EQ(ft.level, 4, "not present at the PML4 level");

	/* Misaligned large pages and PS in a PML4E are reserved-bit faults. */
	fake_map(&f, root, 0x40000000ull * 7, 0x40000000 + 0x200000, U, 3);
	fake_map(&f, root, 0x40000000ull * 2 + 0x400000, 0x402000, U, 2);
	*fake_u64(&f, root + 8 * 3) = 0x0 | COWVMM_PTE_P | COWVMM_PTE_PS | U;
	walk(&f, root, PTW_USER_LO, PTW_USER_HI, 0, &r, &ret);
	EQ(r.nfault, 3, "three reserved-bit faults");
	EQ(r.nleaf, 3, "good leaves still reported");
	OK(r.fault[0].err == PTW_E_RESERVED && r.fault[0].level == 2, "misaligned 2M PDE is reserved");
	OK(r.fault[1].err == PTW_E_RESERVED && r.fault[1].level == 3, "misaligned 1G PDPTE is reserved");
	OK(r.fault[2].err == PTW_E_RESERVED && r.fault[2].level == 4 && r.fault[2].va == 3ull << 39,
	   "PS in a PML4E is reserved");
	EQ(ptw_translate(&f.m, root, 0x80400000ull, &l, &gpa, NULL), PTW_E_RESERVED, "translate: reserved");

	/* Range clipping: only the 4K page lies in [0x400000, 0x400fff]. */
	walk(&f, root, 0x400000, 0x400fff, 0, &r, &ret);
	EQ(r.nleaf, 1, "clipped walk sees only the one page");
	walk(&f, root, 0x401000, 0x7fffffffull, 0, &r, &ret);
	EQ(r.nleaf, 0, "clipped walk past it sees nothing");
	fake_free(&f);
}

static void test_canonical(void)
{
	struct fake f;
	fake_init(&f, RAM, 0x100000, 0x200000);
	uint64_t root = fake_table(&f);
	fake_map(&f, root, COWVMM_DIRECT_MAP_BASE + 0x5000, 0x5000, COWVMM_PTE_RW, 1);
	fake_map(&f, root, 0x00007ffffffff000ull, 0x6000, U, 1);
	OK(ptw_canonical(0x00007fffffffffffull), "top of user half is canonical");
	OK(ptw_canonical(0xffff800000000000ull), "bottom of kernel half is canonical");
	OK(!ptw_canonical(0x0000800000000000ull), "0x0000800000000000 is not canonical");
	OK(!ptw_canonical(0xfff0000000000000ull), "0xfff0000000000000 is not canonical");
	uint64_t gpa;
	struct ptw_leaf l;
	EQ(ptw_translate(&f.m, root, 0x0000800000005000ull, &l, &gpa, NULL), PTW_E_NONCANONICAL,
	   "translate refuses a non-canonical address (would alias slot 256)");
	EQ(ptw_translate(&f.m, root, COWVMM_DIRECT_MAP_BASE + 0x5008, &l, &gpa, NULL), PTW_E_NONE,
	   "translate a kernel-half address");
	EQ(gpa, 0x5008, "kernel-half translation");
	EQ(l.eff, PTW_EFF_W, "kernel page: supervisor, writable");
	struct rec r;
	int ret;
	walk(&f, root, 0xffff800000000000ull, 0xffffffffffffffffull, 0, &r, &ret);
	EQ(r.nleaf, 1, "kernel-half walk finds one leaf");
	EQ(r.leaf[0].va, COWVMM_DIRECT_MAP_BASE + 0x5000, "leaf VA is sign-extended");
	walk(&f, root, PTW_USER_LO, PTW_USER_HI, 0, &r, &ret);
	EQ(r.nleaf, 1, "user-half walk does not see the kernel page");
	EQ(r.leaf[0].va, 0x00007ffffffff000ull, "top user page");
	walk(&f, root, 0, 0x0000800000000000ull, 0, &r, &ret);
	EQ(ret, -EINVAL, "walk refuses a non-canonical bound");
	walk(&f, root, 0x1000, 0x0, 0, &r, &ret);
	EQ(ret, -EINVAL, "walk refuses lo > hi");
	fake_free(&f);
}

static void test_outside_ram(void)
{
	struct fake f;
	fake_init(&f, RAM, 0x100000, 0x200000);
	uint64_t root = fake_table(&f);
	fake_map(&f, root, 0x1000, 0x7000, U, 1);
	/* PML4[1] and a PDE point past the end of RAM, one to the last partial... */
	*fake_u64(&f, root + 8) = (RAM + 0x1000) | TBL;
	uint64_t pde = fake_entry(&f, root, 0x200000, 2);
	*fake_u64(&f, pde) = 0x000ffffffffff000ull | TBL;
	/* A leaf may point outside RAM (MMIO-like): that is not a table, no fault. */
	fake_map(&f, root, 0x2000, RAM + 0x10000, U, 1);
	struct rec r;
	int ret;
	walk(&f, root, PTW_USER_LO, PTW_USER_HI, 0, &r, &ret);
	EQ(ret, 0, "walk with broken tables completes");
	EQ(r.nleaf, 2, "good leaves reported");
	EQ(r.nfault, 2, "two outside-RAM faults");
	OK(r.fault[0].err == PTW_E_OUTSIDE_RAM && r.fault[0].level == 2 &&
	   r.fault[0].va == 0x200000 && r.fault[0].entry_gpa == pde, "PDE outside RAM reported with its entry");
	OK(r.fault[1].err == PTW_E_OUTSIDE_RAM && r.fault[1].level == 4 &&
	   r.fault[1].target_gpa == RAM + 0x1000, "PML4E outside RAM reported");
	EQ(r.leaf[1].pa, RAM + 0x10000, "leaf outside RAM keeps its PA");
	uint64_t gpa;
	struct ptw_fault ft;
	EQ(ptw_translate(&f.m, root, 0x200000, NULL, &gpa, &ft), PTW_E_OUTSIDE_RAM, "translate: table outside RAM");
	EQ(ft.target_gpa, 0x000ffffffffff000ull, "fault names the bad table");
	walk(&f, RAM, PTW_USER_LO, PTW_USER_HI, 0, &r, &ret);
	OK(ret == 0 && r.nfault == 1 && r.fault[0].err == PTW_E_OUTSIDE_RAM && r.ntables == 0,
	   "CR3 outside RAM: one fault, nothing read");
	EQ(ptw_translate(&f.m, root | 0xfff, 0x1000, NULL, &gpa, NULL), PTW_E_NONE,
	   "CR3 low bits (PCID/flags) are ignored");
	fake_free(&f);
}

static void test_cycles(void)
{
	struct fake f;
	fake_init(&f, RAM, 0x100000, 0x200000);
	uint64_t root = fake_table(&f);
	fake_map(&f, root, 0x1000, 0x7000, U, 1);
	/* Self-reference: PML4[2] -> PML4 (the "recursive mapping" trick). */
	*fake_u64(&f, root + 16) = root | TBL;
	/* Alias: a second PDE points at the same PT as the first. */
	uint64_t pde0 = fake_entry(&f, root, 0x0, 2);
	*fake_u64(&f, pde0 + 8) = *fake_u64(&f, pde0);
	struct rec r;
	int ret;
	walk(&f, root, PTW_USER_LO, PTW_USER_HI, 0, &r, &ret);
	EQ(ret, 0, "self-referencing tables: walk completes");
	EQ(r.nfault, 2, "self-reference and alias both reported");
	OK(r.fault[0].err == PTW_E_REVISITED && r.fault[0].level == 2, "aliased PT reported as revisited");
	OK(r.fault[1].err == PTW_E_REVISITED && r.fault[1].level == 4 && r.fault[1].target_gpa == root,
	   "PML4 self-reference reported");
	EQ(r.nleaf, 1, "leaf seen once");

	walk(&f, root, PTW_USER_LO, PTW_USER_HI, PTW_F_SHARED_OK, &r, &ret);
	EQ(r.nfault, 0, "shared-ok walk follows the alias and the loop (bounded)");
	OK(r.nleaf >= 2, "alias leaf seen twice when sharing is allowed");

	/* Worst case: every PML4 slot points at the PML4 (512^3 paths). */
	for (int i = 0; i < 512; i++)
		*fake_u64(&f, root + 8 * i) = root | TBL;
	clock_t t0 = clock();
	walk(&f, root, PTW_USER_LO, PTW_USER_HI, 0, &r, &ret);
	EQ(r.nfault, 256, "full self-reference: one fault per user slot, no descent");
	walk(&f, root, 0xffff800000000000ull, 0xffffffffffffffffull, PTW_F_SHARED_OK, &r, &ret);
	double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
	OK(r.nfault >= 1 && r.fault[r.nfault - 1].err == PTW_E_BUDGET, "shared-ok: budget fault stops the blow-up");
	EQ(r.ntables, PTW_BUDGET, "exactly PTW_BUDGET tables entered");
	OK(s < 5.0, "bounded work (%.3f s)", s);
	fake_free(&f);
}

/* Effective permissions: clear one bit at one level, check the leaf's effect. */
static void test_permissions(void)
{
	struct fake f;
	fake_init(&f, RAM, 0x100000, 0x200000);
	static const struct { uint64_t bit; uint32_t lost; uint32_t gained; const char *name; } bits[] = {
		{ COWVMM_PTE_RW, PTW_EFF_W, 0, "RW" },
		{ COWVMM_PTE_US, PTW_EFF_U, 0, "US" },
		{ COWVMM_PTE_NX, 0, PTW_EFF_NX, "NX" },
	};
	for (unsigned b = 0; b < 3; b++)
		for (int level = 1; level <= 4; level++) {
			f.next = 0x100000;
			uint64_t root = fake_table(&f);
			uint64_t va = 0x12345000ull;
			fake_map(&f, root, va, 0x9000, U, 1);
			uint64_t *e = fake_u64(&f, fake_entry(&f, root, va, level));
			if (bits[b].bit == COWVMM_PTE_NX)
				*e |= COWVMM_PTE_NX;
			else
				*e &= ~bits[b].bit;
			struct ptw_leaf l;
			uint64_t gpa;
			ptw_translate(&f.m, root, va, &l, &gpa, NULL);
			uint32_t want = ((PTW_EFF_W | PTW_EFF_U) & ~bits[b].lost) | bits[b].gained;
			EQ(l.eff, want, "%s %s at level %d: effective flags", bits[b].name,
			   bits[b].gained ? "set" : "cleared", level);
			struct rec r;
			int ret;
			walk(&f, root, PTW_USER_LO, PTW_USER_HI, 0, &r, &ret);
			EQ(r.nleaf == 1 ? r.leaf[0].eff : 99, want, "walker agrees with translate");
		}
	fake_free(&f);
}

static void test_ranges(void)
{
	struct fake f;
	fake_init(&f, RAM, 0x100000, 0x200000);
	uint64_t root = fake_table(&f);
	/* text r-x: 3 pages; data rw: 2 pages; COW: 2 pages; gap; 2M rw + adjacent 4K rw. */
	for (int i = 0; i < 3; i++)
		fake_map(&f, root, 0x400000 + i * PG, 0x300000 + i * PG, COWVMM_PTE_US, 1);
	for (int i = 3; i < 5; i++)
		fake_map(&f, root, 0x400000 + i * PG, 0x300000 + i * PG, U | COWVMM_PTE_NX, 1);
	for (int i = 5; i < 7; i++)
		fake_map(&f, root, 0x400000 + i * PG, 0x300000 + i * PG,
			 COWVMM_PTE_US | COWVMM_PTE_COW | COWVMM_PTE_NX, 1);
	fake_map(&f, root, 0x600000, 0x400000, U, 2);
	fake_map(&f, root, 0x800000, 0x200000, U, 1);
	struct rec r = { 0 };
	int ret = ptw_ranges(&f.m, root, PTW_USER_LO, PTW_USER_HI, 0, rec_range, NULL, &r);
	EQ(ret, 0, "ranges walk completes");
	EQ(r.nrange, 4, "four merged ranges");
	OK(r.range[0].va == 0x400000 && r.range[0].end == 0x403000 && r.range[0].pages == 3 &&
	   r.range[0].eff == PTW_EFF_U && !r.range[0].cow, "text range");
	OK(r.range[1].va == 0x403000 && r.range[1].pages == 2 &&
	   r.range[1].eff == (PTW_EFF_U | PTW_EFF_W | PTW_EFF_NX), "data range");
	OK(r.range[2].va == 0x405000 && r.range[2].pages == 2 && r.range[2].cow, "COW range");
	OK(r.range[3].va == 0x600000 && r.range[3].end == 0x801000 && r.range[3].pages == 513,
	   "2M page merges with the following 4K page");
	char buf[8];
	EQ(strcmp(ptw_flags_str(r.range[2].eff, true, buf), "ur--c"), 0, "flags string of a COW range: %s", buf);
	fake_free(&f);
}

/* The COW and ZERO software bits come through on leaves. */
static void test_soft_bits(void)
{
	struct fake f;
	fake_init(&f, RAM, 0x100000, 0x200000);
	uint64_t root = fake_table(&f);
	fake_map(&f, root, 0x1000, 0x7000, COWVMM_PTE_US | COWVMM_PTE_COW, 1);
	fake_map(&f, root, 0x2000, 0x8000, COWVMM_PTE_US | COWVMM_PTE_ZERO, 1);
	struct rec r;
	int ret;
	walk(&f, root, PTW_USER_LO, PTW_USER_HI, 0, &r, &ret);
	OK(r.nleaf == 2 && r.leaf[0].cow && !r.leaf[0].zero && !r.leaf[1].cow && r.leaf[1].zero,
	   "COW and ZERO software flags reported");
	OK(r.leaf[0].pte_gpa == fake_entry(&f, root, 0x1000, 1), "leaf names where its PTE lives");
	fake_free(&f);
}

int main(void)
{
	test_sizes();
	test_canonical();
	test_outside_ram();
	test_cycles();
	test_permissions();
	test_ranges();
	test_soft_bits();
	return tap_done();
}
