/* tests/unit/test-audit.c — the COW audit on a synthetic guest (process table, refcounts, page tables built here) (TAP). */
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "dot.h"
#include "fakeguest.h"
#include "simguest.h"
#include "mutate.h"
#include "ptdump.h"

static struct cowvmm_hc_inspect cp(uint32_t kind, int32_t pid, int32_t pid2)
{
	return (struct cowvmm_hc_inspect){ .checkpoint = kind, .pid = pid, .pid2 = pid2 };
}

/* Run an audit; true if a violation of `kind` is among those found.  Shows them. */
static bool finds(struct sim *s, struct cowvmm_hc_inspect c, enum audit_kind kind, unsigned *nout)
{
	unsigned n = audit_run(s->a, &c);
	size_t nv;
	const struct audit_violation *v = audit_violations(s->a, &nv, NULL);
	bool found = false;
	char buf[512];
	for (size_t i = 0; i < nv; i++) {
		printf("#   %s\n", audit_format(&v[i], buf, sizeof buf));
		found |= v[i].kind == kind;
	}
	if (nout)
		*nout = n;
	return found;
}

static unsigned clean(struct sim *s, struct cowvmm_hc_inspect c)
{
	unsigned n;
	finds(s, c, AV_COUNT, &n);
	return n;
}

#define RAM (16ull << 20)

static void test_clean(void)
{
	struct sim s;
	sim_init(&s, RAM);
	EQ(clean(&s, cp(COWVMM_CP_BOOT, 0, 0)), 0, "boot state audits clean");
	sim_proc(&s, 0, 1, 0, "init");
	for (int k = 0; k < 2; k++)
		sim_page(&s, 0, VA_TEXT + k * PG, TEXT_FLAGS);
	for (int k = 0; k < 8; k++)
		sim_page(&s, 0, VA_DATA + k * PG, DATA_FLAGS);
	sim_zero(&s, 0, VA_ZERO);
	EQ(clean(&s, cp(COWVMM_CP_USER, 1, 0)), 0, "one process audits clean");
	sim_fork(&s, 0, 1, 2);
	EQ(clean(&s, cp(COWVMM_CP_FORK, 1, 2)), 0, "after fork: clean");
	size_t np;
	const struct audit_proc *p = audit_procs(s.a, &np);
	OK(np == 2 && p[0].pages == 11 && p[0].cow == 8 && p[0].shared == 11 && p[0].writable == 0 &&
	   p[0].zero == 1 && p[0].tables == 5, "parent summary: 11 pages, 8 COW, all shared, 5 tables");
	OK(np == 2 && !strcmp(p[1].name, "child") && p[1].pid == 2 && p[1].ppid == 1, "child named in summary");
	EQ(audit_frames_free(s.a), *freec(&s), "free frames counted");

	/* Child writes a data page: copy. */
	uint64_t va = VA_DATA + 3 * PG, fo, fn;
	struct cowvmm_hc_inspect c = cp(COWVMM_CP_COW_BEFORE, 2, 0);
	c.va = va + 5;
	EQ(clean(&s, c), 0, "COW before: clean");
	sim_cow(&s, 1, va, &fo, &fn);
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 2, .va = va + 5,
					.frame_old = fo, .frame_new = fn };
	OK(fo != fn, "the simulated fault copied");
	EQ(clean(&s, c), 0, "COW after a copy: clean");
	/* Parent writes the same page: now refcount 1, reuse. */
	c = cp(COWVMM_CP_COW_BEFORE, 1, 0);
	c.va = va;
	EQ(clean(&s, c), 0, "COW before reuse: clean");
	sim_cow(&s, 0, va, &fo, &fn);
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 1, .va = va,
					.frame_old = fo, .frame_new = fn };
	OK(fo == fn, "the simulated fault reused");
	EQ(clean(&s, c), 0, "COW after a reuse: clean");
	/* Zero page written by the child: fresh zeroed frame. */
	c = cp(COWVMM_CP_COW_BEFORE, 2, 0);
	c.va = VA_ZERO;
	EQ(clean(&s, c), 0, "zero-page write, before: clean");
	sim_cow(&s, 1, VA_ZERO, &fo, &fn);
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 2, .va = VA_ZERO,
					.frame_old = fo, .frame_new = fn };
	EQ(clean(&s, c), 0, "zero-page write, after: clean");
	/* Child exits: release everything, mark zombie. */
	struct collect *cl = calloc(1, sizeof *cl);
	const struct ptw_ops ops = { .leaf = collect_leaf };
	ptw_walk(&s.f.m, s.root[1], PTW_USER_LO, PTW_USER_HI, 0, &ops, cl);
	for (size_t k = 0; k < cl->n; k++) {
		uint64_t *pe = sim_pte(&s, 1, cl->va[k]);
		uint64_t f = (*pe & COWVMM_PTE_ADDR) / PG;
		if (--*rc(&s, f) == 0)
			(*freec(&s))++;
		*pe = 0;
	}
	free(cl);
	/* Free the child's table pages. */
	struct tables tb = { 0 };
	const struct ptw_ops tops = { .table = collect_table };
	ptw_walk(&s.f.m, s.root[1], PTW_USER_LO, PTW_USER_HI, 0, &tops, &tb);
	EQ(tb.n, 5, "child has 5 table pages");
	for (size_t l = 0; l < tb.n; l++) {
		*rc(&s, tb.f[l]) = 0;
		*pins(&s, tb.f[l]) = 0;
		(*freec(&s))++;
	}
	uint32_t z = COWVMM_PSTATE_ZOMBIE;
	uint64_t zero = 0;
	memcpy(slot(&s, 1) + 8, &z, 4);
	memcpy(slot(&s, 1) + 16, &zero, 8);
	EQ(clean(&s, cp(COWVMM_CP_EXIT, 2, 0)), 0, "after the child's exit: clean");
	sim_free(&s);
}

/* One broken invariant at a time, on a fresh forked scenario. */
struct breakage {
	const char *name;
	enum audit_kind kind;
	uint32_t checkpoint;
	void (*apply)(struct sim *s);
};

static uint64_t *data_pte(struct sim *s, int i, int k) { return sim_pte(s, i, VA_DATA + k * PG); }
static uint64_t frame_of(uint64_t pte) { return (pte & COWVMM_PTE_ADDR) / PG; }

static void b_shared_writable(struct sim *s) { uint64_t *e = data_pte(s, 0, 1); *e = (*e | COWVMM_PTE_RW) & ~COWVMM_PTE_COW; }
static void b_cow_rw(struct sim *s) { *data_pte(s, 0, 1) |= COWVMM_PTE_RW; }
static void b_leak(struct sim *s) { (*rc(s, frame_of(*data_pte(s, 0, 2))))++; }
static void b_drop(struct sim *s) { (*rc(s, frame_of(*data_pte(s, 0, 2))))--; }
static void b_free_count(struct sim *s) { (*freec(s))++; }
static void b_unmanaged(struct sim *s) { *data_pte(s, 1, 0) = 0x5000 | COWVMM_PTE_P | COWVMM_PTE_US; (*rc(s, frame_of(*data_pte(s, 0, 0))))--; }
static void b_broken(struct sim *s) { *fake_u64(&s->f, s->root[1] + 8 * 5) = (RAM + 0x100000) | TBL; }
static void b_zero_written(struct sim *s) { frame_mem(s, s->d.zero_frame)[100] = 1; }
static void b_zero_writable(struct sim *s) { *sim_pte(s, 1, VA_ZERO) |= COWVMM_PTE_RW; }
static void b_zero_flag(struct sim *s) { *data_pte(s, 1, 4) |= COWVMM_PTE_ZERO; }

/* Point a PTE at a free frame (and drop the reference it held). */
static void b_free_mapped(struct sim *s)
{
	uint64_t *e = data_pte(s, 1, 3);
	(*rc(s, frame_of(*e)))--;
	uint64_t f = s->nframes - 1; /* never allocated in this small scenario */
	*e = (*e & ~COWVMM_PTE_ADDR) | f * PG;
}

/* The child's PD becomes the parent's PD: one table page in two processes. */
static void b_table_shared(struct sim *s)
{
	uint64_t pdpt_c = *fake_u64(&s->f, s->root[1]) & COWVMM_PTE_ADDR;
	uint64_t pdpt_p = *fake_u64(&s->f, s->root[0]) & COWVMM_PTE_ADDR;
	*fake_u64(&s->f, pdpt_c) = *fake_u64(&s->f, pdpt_p);
}

/* A user PTE maps the parent's PML4 (a page-table page), reference taken. */
static void b_table_as_data(struct sim *s)
{
	uint64_t *e = data_pte(s, 1, 5);
	(*rc(s, frame_of(*e)))--;
	*e = (*e & ~COWVMM_PTE_ADDR) | s->root[0];
	(*rc(s, s->root[0] / PG))++;
}

static void b_table_free(struct sim *s)
{
	*rc(s, s->root[1] / PG) = 0;
	*pins(s, s->root[1] / PG) = 0;
	(*freec(s))++;
}

/* Fork defects: the child lacks a page / maps its own copy / parent kept RW. */
static void b_fork_missing(struct sim *s)
{
	uint64_t *e = data_pte(s, 1, 6);
	(*rc(s, frame_of(*e)))--;
	*e = 0;
}

static void b_fork_copy(struct sim *s)
{
	uint64_t *e = data_pte(s, 1, 7);
	(*rc(s, frame_of(*e)))--;
	uint64_t f = sim_alloc(s, false);
	*e = (*e & ~COWVMM_PTE_ADDR) | f * PG;
}

static void b_fork_rw(struct sim *s) { *sim_pte(s, 0, VA_TEXT) |= COWVMM_PTE_RW; }

static void b_dup_pid(struct sim *s)
{
	int32_t one = 1;
	memcpy(slot(s, 1), &one, 4);
}

static const struct breakage breakages[] = {
	{ "shared COW frame made writable", AV_SHARED_WRITABLE, COWVMM_CP_USER, b_shared_writable },
	{ "COW flag together with RW", AV_COW_WRITABLE, COWVMM_CP_USER, b_cow_rw },
	{ "leaked reference (+1)", AV_REFCOUNT, COWVMM_CP_USER, b_leak },
	{ "dropped reference (-1)", AV_REFCOUNT, COWVMM_CP_USER, b_drop },
	{ "PTE points at a free frame", AV_FREE_MAPPED, COWVMM_CP_USER, b_free_mapped },
	{ "free count off by one", AV_FREE_COUNT, COWVMM_CP_USER, b_free_count },
	{ "page-table page in two processes", AV_TABLE_SHARED, COWVMM_CP_USER, b_table_shared },
	{ "page-table page mapped as data", AV_TABLE_AS_DATA, COWVMM_CP_USER, b_table_as_data },
	{ "page-table page free", AV_TABLE_FREE, COWVMM_CP_USER, b_table_free },
	{ "PTE maps an unmanaged frame", AV_UNMANAGED, COWVMM_CP_USER, b_unmanaged },
	{ "table outside RAM", AV_PT_BROKEN, COWVMM_CP_USER, b_broken },
	{ "zero frame written", AV_ZERO, COWVMM_CP_USER, b_zero_written },
	{ "zero frame mapped writable", AV_ZERO, COWVMM_CP_USER, b_zero_writable },
	{ "ZERO flag on a private frame", AV_ZERO, COWVMM_CP_USER, b_zero_flag },
	{ "child lacks a page after fork", AV_FORK, COWVMM_CP_FORK, b_fork_missing },
	{ "child has its own copy after fork", AV_FORK, COWVMM_CP_FORK, b_fork_copy },
	{ "parent text writable after fork", AV_FORK, COWVMM_CP_FORK, b_fork_rw },
	{ "duplicate pid", AV_PROC, COWVMM_CP_USER, b_dup_pid },
};

static void test_breakages(void)
{
	for (size_t i = 0; i < sizeof breakages / sizeof breakages[0]; i++) {
		const struct breakage *b = &breakages[i];
		struct sim s;
		scenario(&s, RAM);
		EQ(clean(&s, cp(b->checkpoint, 1, 2)), 0, "%s: clean before", b->name);
		b->apply(&s);
		unsigned n;
		OK(finds(&s, cp(b->checkpoint, 1, 2), b->kind, &n), "%s: caught as %s (%u violation(s))",
		   b->name, audit_kind_name(b->kind), n);
		sim_free(&s);
	}
	/* Refcount violations name a process and address through the second walk. */
	struct sim s;
	scenario(&s, RAM);
	b_leak(&s);
	struct cowvmm_hc_inspect c = cp(COWVMM_CP_USER, 1, 0);
	audit_run(s.a, &c);
	size_t nv;
	const struct audit_violation *v = audit_violations(s.a, &nv, NULL);
	OK(nv == 1 && v[0].pid == 1 && v[0].va == VA_DATA + 2 * PG && v[0].expected == 2 && v[0].found == 3,
	   "leaked reference names pid 1, its VA, expected 2, found 3");
	sim_free(&s);
}

/* COW resolution defects, each applied to the simulated fault of the child. */
enum cow_defect { CD_NOT_DIRTY, CD_BAD_COPY, CD_OLD_NOT_DROPPED, CD_SHARER_CHANGED, CD_WRONG_FRAME,
		  CD_REUSE_SHARED, CD_COPY_AT_ONE, CD_OLD_WRITTEN, CD_COUNT };
static const char *const cow_names[CD_COUNT] = {
	"new PTE not dirty", "copy differs", "old frame's count not dropped", "other sharer changed",
	"guest reports the wrong new frame", "reuse of a shared frame", "copy at refcount 1",
	"old frame written during the fault",
};

static void test_cow_defects(void)
{
	for (int d = 0; d < CD_COUNT; d++) {
		struct sim s;
		scenario(&s, RAM);
		int w = 1;
		int32_t pid = 2;
		uint64_t va = VA_DATA + 2 * PG, fo, fn;
		if (d == CD_COPY_AT_ONE) {
			/* the child copies first, so the parent's page has refcount 1 */
			sim_cow(&s, 1, va, &fo, &fn);
			w = 0, pid = 1;
		}
		struct cowvmm_hc_inspect c = cp(COWVMM_CP_COW_BEFORE, pid, 0);
		c.va = va;
		audit_run(s.a, &c);
		uint64_t *e = data_pte(&s, w, 2);
		switch (d) {
		case CD_REUSE_SHARED:
			fo = fn = frame_of(*e);
			*e = (*e & ~COWVMM_PTE_COW) | COWVMM_PTE_RW | COWVMM_PTE_D;
			break;
		case CD_COPY_AT_ONE: {
			fo = frame_of(*e);
			fn = sim_alloc(&s, false);
			memcpy(frame_mem(&s, fn), frame_mem(&s, fo), PG);
			*e = fn * PG | (*e & ~COWVMM_PTE_ADDR & ~COWVMM_PTE_COW) | COWVMM_PTE_RW | COWVMM_PTE_D;
			if (--*rc(&s, fo) == 0)
				(*freec(&s))++;
			break;
		}
		default:
			sim_cow(&s, w, va, &fo, &fn);
		}
		switch (d) {
		case CD_NOT_DIRTY: *e &= ~COWVMM_PTE_D; break;
		case CD_BAD_COPY: frame_mem(&s, fn)[17] ^= 0xff; break;
		case CD_OLD_NOT_DROPPED: (*rc(&s, fo))++; break;
		case CD_SHARER_CHANGED: *data_pte(&s, 0, 2) |= COWVMM_PTE_PCD; break;
		case CD_WRONG_FRAME: fn = fo; break;
		case CD_OLD_WRITTEN: frame_mem(&s, fo)[9] ^= 1; break;
		default: break;
		}
		c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = pid, .va = va,
						.frame_old = fo, .frame_new = fn };
		unsigned n;
		OK(finds(&s, c, AV_COW, &n), "COW defect caught: %s (%u violation(s))", cow_names[d], n);
		sim_free(&s);
	}
}

/* A COW copy of a frame the books said was free (refcount 0) whose count
 * then "drops" to 0xffffffff: not down by one, whatever uint32_t says. */
static void test_cow_refcount_wrap(void)
{
	struct sim s;
	scenario(&s, RAM);
	uint64_t va = VA_DATA + 2 * PG, fo, fn;
	*rc(&s, frame_of(*data_pte(&s, 1, 2))) = 0;
	struct cowvmm_hc_inspect c = cp(COWVMM_CP_COW_BEFORE, 2, 0);
	c.va = va;
	audit_run(s.a, &c);
	sim_cow(&s, 1, va, &fo, &fn);
	EQ(*rc(&s, fo), UINT32_MAX, "the guest's count of the old frame wrapped from 0");
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 2, .va = va,
					.frame_old = fo, .frame_new = fn };
	unsigned n;
	OK(finds(&s, c, AV_COW, &n), "old frame's count going from 0 to 0xffffffff is not a drop by one (%u violation(s))",
	   n);
	sim_free(&s);
}

static void test_proc_args(void)
{
	struct sim s;
	scenario(&s, RAM);
	unsigned n;
	OK(finds(&s, cp(COWVMM_CP_FORK, 1, 7), AV_PROC, &n), "fork checkpoint naming a missing child");
	OK(finds(&s, cp(COWVMM_CP_EXIT, 2, 0), AV_PROC, &n), "exit checkpoint while the address space remains");
	struct cowvmm_hc_inspect c = { .checkpoint = COWVMM_CP_COW_AFTER, .pid = 2, .va = VA_DATA,
				       .frame_old = 1ull << 40, .frame_new = 5 };
	OK(finds(&s, c, AV_PROC, &n), "COW checkpoint with a frame outside RAM");
	/* A process table that leaves RAM is not read beyond it. */
	struct audit *a = audit_new(&s.f.m);
	struct cowvmm_hc_describe d = s.d;
	d.proc_table_gpa = RAM - STRIDE;
	char err[200];
	OK(audit_set_descriptor(a, &d, err, sizeof err) == 0, "descriptor accepted by the auditor");
	c = cp(COWVMM_CP_USER, 0, 0);
	audit_run(a, &c);
	OK(1, "audit with a process table ending at the end of RAM does not crash");
	d.nframes = RAM / PG * 2;
	OK(audit_set_descriptor(a, &d, err, sizeof err) == -1, "descriptor with more frames than RAM refused: %s", err);
	audit_free(a);
	sim_free(&s);
}

/* Cost of a full audit of two processes sharing 64 MiB. */
static void test_bench(void)
{
	struct sim s;
	sim_init(&s, 96ull << 20);
	sim_proc(&s, 0, 1, 0, "big");
	uint64_t pages = (64ull << 20) / PG;
	for (uint64_t k = 0; k < pages; k++)
		sim_page(&s, 0, 0x10000000ull + k * PG, DATA_FLAGS);
	sim_fork(&s, 0, 1, 2);
	struct cowvmm_hc_inspect c = cp(COWVMM_CP_FORK, 1, 2);
	uint64_t best = UINT64_MAX, sum = 0;
	unsigned n = 0;
	const int reps = 10;
	for (int r = 0; r < reps; r++) {
		n |= audit_run(s.a, &c);
		uint64_t t = audit_last_ns(s.a);
		sum += t;
		best = t < best ? t : best;
	}
	EQ(n, 0, "2 x 64 MiB shared: fork audit clean");
	size_t np;
	const struct audit_proc *p = audit_procs(s.a, &np);
	OK(np == 2 && p[0].pages == pages && p[1].shared == pages, "both map %llu shared pages",
	   (unsigned long long)pages);
	printf("# audit of two processes sharing 64 MiB (%llu PTEs each, %llu frames): best %.2f ms, mean %.2f ms\n",
	       (unsigned long long)pages, (unsigned long long)s.nframes, best / 1e6, sum / 1e6 / reps);
	OK(best < 2000000000ull, "audit well under 2 s even under sanitizers");
	/* The same 64 MiB, COW-faulted by the child page after page with local
	 * checkpoints (a full audit every 64th, as the VMM's default). */
	audit_set_full_every(s.a, 64);
	uint64_t lsum = 0, lmax = 0, nl = 0, fo, fn;
	unsigned bad = 0;
	const uint64_t faults = 4096;
	for (uint64_t k = 0; k < faults; k++) {
		uint64_t va = 0x10000000ull + k * PG;
		struct cowvmm_hc_inspect b = cp(COWVMM_CP_COW_BEFORE, 2, 0);
		b.va = va;
		bad += audit_run(s.a, &b);
		bool lb = !audit_last_full(s.a);
		uint64_t tb = audit_last_ns(s.a);
		sim_cow(&s, 1, va, &fo, &fn);
		struct cowvmm_hc_inspect af = { .checkpoint = COWVMM_CP_COW_AFTER, .pid = 2, .va = va,
						.frame_old = fo, .frame_new = fn };
		bad += audit_run(s.a, &af);
		uint64_t ta = audit_last_ns(s.a);
		if (lb && !audit_last_full(s.a)) {
			lsum += tb + ta;
			lmax = tb + ta > lmax ? tb + ta : lmax;
			nl++;
		}
	}
	EQ(bad, 0, "%llu COW faults on 2 x 64 MiB: every checkpoint clean", (unsigned long long)faults);
	uint64_t full, local, fb;
	audit_counts(s.a, &full, &local, &fb);
	printf("# local COW checkpoints on 2 x 64 MiB: %llu full, %llu local, %llu fallbacks; "
	       "before+after pair judged locally: mean %.1f us, max %.1f us\n", (unsigned long long)full,
	       (unsigned long long)local, (unsigned long long)fb, nl ? lsum / 1e3 / nl : 0.0, lmax / 1e3);
	OK(fb == 0 && local > full, "local checkpoints carry the COW faults (no fallback)");
	sim_free(&s);
}

/* --mutate: each kind of VMM-made breakage is caught by the next audit. */
static void test_mutations(void)
{
	static const enum audit_kind want[] = { AV_SHARED_WRITABLE, AV_REFCOUNT, AV_REFCOUNT, AV_FREE_MAPPED };
	for (int k = 0; mutate_kinds[k]; k++) {
		if (!strcmp(mutate_kinds[k], "dirty-old"))
			continue; /* needs KVM (inspect.c); its check is test_dirty()'s */
		struct sim s;
		scenario(&s, RAM);
		struct cowvmm_hc_inspect c = cp(COWVMM_CP_FORK, 1, 2);
		char what[200] = "";
		struct cowvmm_hc_inspect user = cp(COWVMM_CP_USER, 1, 0);
		OK(!mutate_apply(audit_books(s.a), mutate_kinds[k], &user, what, sizeof what), "mutate %s: not at a user checkpoint",
		   mutate_kinds[k]);
		OK(mutate_apply(audit_books(s.a), mutate_kinds[k], &c, what, sizeof what), "mutate %s applied: %s", mutate_kinds[k], what);
		unsigned n;
		OK(finds(&s, c, want[k], &n), "mutate %s caught as %s", mutate_kinds[k], audit_kind_name(want[k]));
		sim_free(&s);
	}
	OK(!mutate_kind_valid("bogus") && mutate_kind_valid("leak"), "mutation kinds validated");
}

/* --dump-pt and --dot on the forked scenario. */
static void test_outputs(void)
{
	struct sim s;
	scenario(&s, RAM);
	struct cowvmm_hc_inspect c = cp(COWVMM_CP_FORK, 1, 2);
	audit_run(s.a, &c);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ptdump(f, audit_books(s.a), -1);
	fclose(f);
	OK(strstr(buf, "pid 1 (init)") && strstr(buf, "pid 2 (child)"), "dump names both processes");
	OK(strstr(buf, "0000000000600000-0000000000608000 0000000000008000 ur--c") != NULL,
	   "info mem line of the COW data range");
	OK(strstr(buf, "0000000000600000: ") && strstr(buf, "X------U- cow      refcount 2 pins 0"),
	   "info tlb line with COW flag and refcount");
	OK(strstr(buf, "zero refcount 3 pins 1") != NULL, "zero page shown with its pin");
	free(buf);
	f = open_memstream(&buf, &len);
	ptdump(f, audit_books(s.a), 9);
	fclose(f);
	OK(strstr(buf, "no process with pid 9") != NULL, "dump of a missing pid says so");
	free(buf);

	char dir[] = "/tmp/test-audit-dot.XXXXXX";
	OK(mkdtemp(dir) != NULL, "temporary directory");
	EQ(dot_write(NULL, dir, "fork", "after fork", audit_books(s.a), 1, 2, VA_DATA + PG), 0, "dot_write succeeds");
	char path[256];
	snprintf(path, sizeof path, "%s/fork.dot", dir);
	f = fopen(path, "r");
	char text[65536] = "";
	size_t got = f ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f)
		fclose(f);
	text[got] = 0;
	OK(strstr(text, "digraph") && strstr(text, "cluster_1") && strstr(text, "cluster_2"), "DOT has both processes");
	OK(strstr(text, "fillcolor=orange") != NULL, "shared COW frames highlighted");
	OK(strstr(text, "color=red") != NULL, "marked page highlighted");
	snprintf(path, sizeof path, "%s/fork.svg", dir);
	bool have_dot = system("command -v dot >/dev/null 2>&1") == 0;
	if (have_dot)
		OK(access(path, R_OK) == 0, "SVG rendered by dot");
	else
		OK(1, "# SKIP dot not installed");
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd))
		printf("# could not remove %s\n", dir);
	sim_free(&s);
}

/* Cheap COW checkpoints: judged locally between full audits, the same
 * defects caught, and a picture that does not add up sent to the full audit. */
static void test_local(void)
{
	struct sim s;
	scenario(&s, RAM);
	audit_set_full_every(s.a, 1000);
	uint64_t full, local, fb, fo, fn;
	EQ(clean(&s, cp(COWVMM_CP_FORK, 1, 2)), 0, "local: fork audit clean");
	OK(audit_last_full(s.a), "local: a fork checkpoint is a full audit");
	uint64_t va = VA_DATA + 2 * PG;
	struct cowvmm_hc_inspect c = cp(COWVMM_CP_COW_BEFORE, 2, 0);
	c.va = va;
	EQ(clean(&s, c), 0, "local: COW before: clean");
	OK(!audit_last_full(s.a), "local: COW before judged locally");
	sim_cow(&s, 1, va, &fo, &fn);
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 2, .va = va,
					.frame_old = fo, .frame_new = fn };
	EQ(clean(&s, c), 0, "local: COW after a copy: clean");
	OK(!audit_last_full(s.a), "local: COW after judged locally");
	/* The parent now holds the only reference: reuse, found through the updated reverse map. */
	c = cp(COWVMM_CP_COW_BEFORE, 1, 0);
	c.va = va;
	EQ(clean(&s, c), 0, "local: COW before reuse: clean");
	sim_cow(&s, 0, va, &fo, &fn);
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 1, .va = va,
					.frame_old = fo, .frame_new = fn };
	EQ(clean(&s, c), 0, "local: COW after a reuse: clean");
	OK(fo == fn && !audit_last_full(s.a), "local: reuse judged locally");
	/* A sharer made writable: caught without a walk. */
	va = VA_DATA + 4 * PG;
	*sim_pte(&s, 0, va) = (*sim_pte(&s, 0, va) | COWVMM_PTE_RW) & ~COWVMM_PTE_COW;
	c = cp(COWVMM_CP_COW_BEFORE, 2, 0);
	c.va = va;
	unsigned n;
	OK(finds(&s, c, AV_SHARED_WRITABLE, &n) && !audit_last_full(s.a),
	   "local: writable sharer caught locally (%u violation(s))", n);
	*sim_pte(&s, 0, va) = (*sim_pte(&s, 0, va) & ~COWVMM_PTE_RW) | COWVMM_PTE_COW;
	/* A copy that differs from the old frame: caught without a walk. */
	EQ(clean(&s, c), 0, "local: COW before (bad copy): clean");
	sim_cow(&s, 1, va, &fo, &fn);
	frame_mem(&s, fn)[100] ^= 1;
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 2, .va = va,
					.frame_old = fo, .frame_new = fn };
	OK(finds(&s, c, AV_COW, &n) && !audit_last_full(s.a), "local: bad copy caught locally (%u violation(s))", n);
	frame_mem(&s, fn)[100] ^= 1;
	/* A leaked reference: the sharers found do not account for the count, so a full audit decides. */
	va = VA_DATA + 5 * PG;
	uint64_t f5 = (*sim_pte(&s, 0, va) & COWVMM_PTE_ADDR) / PG;
	(*rc(&s, f5))++;
	c = cp(COWVMM_CP_COW_BEFORE, 2, 0);
	c.va = va;
	OK(finds(&s, c, AV_REFCOUNT, &n) && audit_last_full(s.a), "local: count mismatch sent to a full audit, "
	   "which finds the leak (%u violation(s))", n);
	(*rc(&s, f5))--;
	audit_counts(s.a, &full, &local, &fb);
	OK(full == 2 && local == 7 && fb == 1, "local: 2 full audits, 7 local, 1 fallback (got %llu, %llu, %llu)",
	   (unsigned long long)full, (unsigned long long)local, (unsigned long long)fb);
	/* Every Nth COW checkpoint is a full one. */
	audit_set_full_every(s.a, 2);
	EQ(clean(&s, c), 0, "every 2nd: COW before clean");
	bool first_full = audit_last_full(s.a);
	sim_cow(&s, 1, va, &fo, &fn);
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 2, .va = va,
					.frame_old = fo, .frame_new = fn };
	EQ(clean(&s, c), 0, "every 2nd: COW after clean");
	OK(!first_full && audit_last_full(s.a), "every 2nd: local, then full");
	sim_free(&s);
}

/* Regions in the descriptor: after fork a writable region's pages are COW
 * (or zero), text is read-only without COW, nothing lies outside a region. */
static bool region_case(const char *what, void (*breakit)(struct sim *), enum audit_kind want)
{
	struct sim s;
	char err[200];
	scenario(&s, RAM);
	s.d.off_regions = REG_OFF;
	s.d.off_nregions = NREG_OFF;
	s.d.max_regions = MAX_REG;
	s.d.region_stride = sizeof(struct cowvmm_region);
	bool ok = !audit_set_descriptor(s.a, &s.d, err, sizeof err);
	if (breakit)
		breakit(&s);
	unsigned n;
	bool found = finds(&s, cp(COWVMM_CP_FORK, 1, 2), want, &n);
	ok &= breakit ? found : n == 0;
	OK(ok, "regions: %s (%u violation(s))", what, n);
	sim_free(&s);
	return ok;
}

static void lose_cow(struct sim *s) { *sim_pte(s, 1, VA_DATA + 3 * PG) &= ~COWVMM_PTE_COW; }
static void cow_text(struct sim *s)
{
	*sim_pte(s, 0, VA_TEXT) |= COWVMM_PTE_COW;
	*sim_pte(s, 1, VA_TEXT) |= COWVMM_PTE_COW;
}
static void stray_page(struct sim *s)
{
	uint64_t f = sim_page(s, 1, 0x900000, COWVMM_PTE_US);
	(void)f;
}
static void region_differs(struct sim *s)
{
	uint64_t end = VA_DATA + 4 * PG;
	memcpy(slot(s, 1) + REG_OFF + sizeof(struct cowvmm_region) + 8, &end, 8);
}

static void test_regions(void)
{
	region_case("fork of text, data and a zero page: clean", NULL, AV_COUNT);
	region_case("data page lost its COW flag: caught as region", lose_cow, AV_REGION);
	region_case("text page with the COW flag: caught as region", cow_text, AV_REGION);
	region_case("page outside every region: caught as region", stray_page, AV_REGION);
	region_case("child's regions differ: caught as fork", region_differs, AV_FORK);
	struct sim s;
	char err[200];
	scenario(&s, RAM);
	s.d.off_regions = STRIDE - 8;
	s.d.max_regions = MAX_REG;
	s.d.region_stride = sizeof(struct cowvmm_region);
	OK(audit_set_descriptor(s.a, &s.d, err, sizeof err) != 0, "regions past the process entry refused: %s", err);
	sim_free(&s);
}

/* Dirty logging: what a COW fault's resolution must have written, on bitmaps built here. */
static void dirty_set(uint64_t *bm, uint64_t f) { bm[f / 64] |= 1ull << (f % 64); }

static unsigned dirty_case(struct sim *s, const struct cowvmm_hc_inspect *c, uint64_t f1, uint64_t f2, uint64_t f3)
{
	static uint64_t bm[RAM / PG / 64];
	memset(bm, 0, sizeof bm);
	uint64_t fs[3] = { f1, f2, f3 };
	for (int i = 0; i < 3; i++)
		if (fs[i] != UINT64_MAX)
			dirty_set(bm, fs[i]);
	size_t nv0;
	audit_violations(s->a, &nv0, NULL);
	unsigned n = audit_dirty_check(s->a, c, bm, RAM / PG);
	size_t nv;
	const struct audit_violation *v = audit_violations(s->a, &nv, NULL);
	char buf[512];
	for (size_t i = nv0; i < nv; i++) {
		printf("#   %s\n", audit_format(&v[i], buf, sizeof buf));
		if (v[i].kind != AV_DIRTY)
			n += 1000;
	}
	return n;
}

static void test_dirty(void)
{
	struct sim s;
	scenario(&s, RAM);
	EQ(clean(&s, cp(COWVMM_CP_FORK, 1, 2)), 0, "dirty: fork clean");
	uint64_t va = VA_DATA + PG, fo, fn, gpa, none = UINT64_MAX;
	struct cowvmm_hc_inspect c = cp(COWVMM_CP_COW_BEFORE, 2, 0);
	c.va = va;
	EQ(clean(&s, c), 0, "dirty: COW before clean");
	sim_cow(&s, 1, va, &fo, &fn);
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 2, .va = va,
					.frame_old = fo, .frame_new = fn };
	EQ(clean(&s, c), 0, "dirty: COW after a copy clean");
	struct ptw_leaf l;
	OK(ptw_translate(&s.f.m, s.root[1], va, &l, &gpa, NULL) == PTW_E_NONE, "dirty: writer's PTE found");
	uint64_t pt = l.pte_gpa / PG;
	EQ(dirty_case(&s, &c, fn, pt, none), 0, "dirty: copy wrote the new frame and the PTE's table: clean");
	EQ(dirty_case(&s, &c, fn, pt, fo), 1, "dirty: old frame written during the copy: caught");
	EQ(dirty_case(&s, &c, pt, none, none), 1, "dirty: new frame not written: caught");
	EQ(dirty_case(&s, &c, fn, none, none), 1, "dirty: PTE's table not written: caught");
	EQ(dirty_case(&s, &c, none, none, fo), 3, "dirty: nothing right: three violations");
	/* The parent's write is now a reuse: only its PTE's table must be written. */
	c = cp(COWVMM_CP_COW_BEFORE, 1, 0);
	c.va = va;
	EQ(clean(&s, c), 0, "dirty: COW before reuse clean");
	sim_cow(&s, 0, va, &fo, &fn);
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 1, .va = va,
					.frame_old = fo, .frame_new = fn };
	EQ(clean(&s, c), 0, "dirty: COW after reuse clean");
	OK(ptw_translate(&s.f.m, s.root[0], va, &l, &gpa, NULL) == PTW_E_NONE, "dirty: reuser's PTE found");
	EQ(dirty_case(&s, &c, l.pte_gpa / PG, none, none), 0, "dirty: reuse wrote the PTE's table: clean");
	EQ(dirty_case(&s, &c, fo, none, none), 1, "dirty: reuse without writing the PTE's table: caught");
	sim_free(&s);
}

/* Hostile tables: a 1 GiB leaf maps 262,144 pages; a full audit stops at
 * its page budget with one violation, quickly, and judges nothing else. */
static void test_budget(void)
{
	struct sim s;
	scenario(&s, RAM);
	OK(clean(&s, cp(COWVMM_CP_USER, 1, 0)) == 0, "budget: the scenario starts clean");
	uint64_t pdpt = *fake_u64(&s.f, s.root[0]) & COWVMM_PTE_ADDR; /* PML4[0] -> PDPT */
	*fake_u64(&s.f, pdpt + 8 * 1) = COWVMM_PTE_P | COWVMM_PTE_US | COWVMM_PTE_PS; /* 1 GiB at va 1 GiB */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	unsigned n;
	bool found = finds(&s, cp(COWVMM_CP_USER, 1, 0), AV_PT_BROKEN, &n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	size_t nv;
	const struct audit_violation *v = audit_violations(s.a, &nv, NULL);
	OK(found && n == 1 && strstr(v[0].detail, "more than"),
	   "budget: one page-table-broken violation, nothing else (%u violation(s))", n);
	OK(ms < 1000, "budget: the audit stopped in %.1f ms", ms);
	*fake_u64(&s.f, pdpt + 8 * 1) = 0;
	OK(clean(&s, cp(COWVMM_CP_USER, 1, 0)) == 0, "budget: the leaf gone, the next audit is clean again");
	sim_free(&s);
}

/* A dump of hostile tables stays bounded: 5,000 pages in one process print
 * at most PTDUMP_MAX_LINES lines per section and say how many were left. */
static void test_dump_bound(void)
{
	struct sim s;
	scenario(&s, RAM);
	for (uint64_t k = 0; k < 5000; k++)
		*sim_pte(&s, 0, 0x10000000ull + k * PG) = s.d.zero_frame * PG | COWVMM_PTE_P | COWVMM_PTE_US |
							  (k % 2 ? COWVMM_PTE_ZERO : 0); /* ranges alternate */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ptdump(f, audit_books(s.a), 1);
	fclose(f);
	size_t lines = 0;
	for (const char *c = text; *c; c++)
		lines += *c == '\n';
	OK(lines < 2 * 4096 + 20 && strstr(text, "more line(s) not shown"),
	   "dump of 5,000 pages: %zu lines in all, the rest counted (%zu bytes)", lines, len);
	free(text);
	sim_free(&s);
}

/* A COW-before checkpoint must name a COW page of the writer: an unmapped
 * address or a read-only page without the COW flag is no COW fault. */
static void test_cow_before_pte(void)
{
	struct sim s;
	scenario(&s, RAM);
	struct cowvmm_hc_inspect c = cp(COWVMM_CP_COW_BEFORE, 2, 0);
	c.va = VA_DATA + 2 * PG;
	OK(clean(&s, c) == 0, "cow-before on a COW page: clean");
	c.va = 0x7ff000000000ull;
	unsigned n;
	OK(finds(&s, c, AV_COW, &n), "cow-before at an address the writer does not map: a cow violation (%u)", n);
	c.va = VA_TEXT; /* read-only text, never COW */
	OK(finds(&s, c, AV_COW, &n), "cow-before on a read-only page without the COW flag: a cow violation (%u)", n);
	sim_free(&s);
}

/* A COW checkpoint meant to be judged locally that the full audit has to
 * decide: what the process table showed (here a duplicate pid) is still
 * reported by the full audit, not reset away with the local findings. */
static void test_local_fallback_proc(void)
{
	struct sim s;
	scenario(&s, RAM);
	audit_set_full_every(s.a, 1000);
	EQ(clean(&s, cp(COWVMM_CP_FORK, 1, 2)), 0, "fallback: fork audit clean");
	b_dup_pid(&s);
	struct cowvmm_hc_inspect c = cp(COWVMM_CP_COW_BEFORE, 1, 0);
	c.va = VA_DATA + 2 * PG;
	unsigned n;
	OK(finds(&s, c, AV_PROC, &n) && audit_last_full(s.a),
	   "fallback: the full audit still names the duplicate pid (%u violation(s))", n);
	sim_free(&s);
}

/* ---- threads: several entries of one thread group on one address space ---- */

/* Whether the last audit found a violation of `kind`. */
static bool has_kind(struct sim *s, enum audit_kind kind)
{
	size_t nv;
	const struct audit_violation *v = audit_violations(s->a, &nv, NULL);
	for (size_t i = 0; i < nv; i++)
		if (v[i].kind == kind)
			return true;
	return false;
}

static void set_i32(struct sim *s, int i, size_t off, int32_t v) { memcpy(slot(s, i) + off, &v, 4); }
static void set_u64(struct sim *s, int i, size_t off, uint64_t v) { memcpy(slot(s, i) + off, &v, 8); }

/* Leader pid 1 in slot 0 (text, data, a zero page, as scenario()), its
 * threads pid 2 and pid 3 in slots 1 and 2 on the same page-table root. */
static void threads(struct sim *s)
{
	sim_init(s, RAM);
	sim_proc(s, 0, 1, 0, "init");
	for (int k = 0; k < 2; k++)
		sim_page(s, 0, VA_TEXT + k * PG, TEXT_FLAGS);
	for (int k = 0; k < 8; k++)
		sim_page(s, 0, VA_DATA + k * PG, DATA_FLAGS);
	sim_zero(s, 0, VA_ZERO);
	sim_thread(s, 1, 2, 0);
	sim_thread(s, 2, 3, 0);
}

/* (a) One group of three: one address space, walked once, clean; a thread
 * forks and writes COW pages like any process. */
static void test_threads_clean(void)
{
	struct sim s;
	threads(&s);
	EQ(clean(&s, cp(COWVMM_CP_USER, 2, 0)), 0, "threads: three entries of one group on one cr3 audit clean");
	size_t np;
	const struct audit_proc *p = audit_procs(s.a, &np);
	OK(np == 3 && p[1].tgid == 1 && p[2].tgid == 1 && p[0].as_pid == 1 && p[1].as_pid == 1 && p[2].as_pid == 1,
	   "threads: pids 2 and 3 are threads of 1, their address space walked as pid 1's");
	OK(np == 3 && p[0].pages == 11 && p[1].pages == 11 && p[2].pages == 11 && p[2].tables == 5 &&
	   p[0].shared == 0, "threads: each shows the group's 11 pages, 5 tables, none shared");
	struct guest_proc g;
	uint32_t gs = 99;
	OK(books_find_leader(audit_books(s.a), 3, &g, &gs) && g.pid == 1 && gs == 0,
	   "threads: pid 3's regions are in its leader's entry (pid 1, slot 0)");
	/* Thread 3 forks pid 4: the child shares every page COW with the group. */
	sim_fork(&s, 2, 3, 4);
	EQ(clean(&s, cp(COWVMM_CP_FORK, 3, 4)), 0, "threads: a thread's fork audits clean");
	p = audit_procs(s.a, &np);
	OK(np == 4 && p[3].tgid == 4 && p[3].as_pid == 4 && p[3].pages == 11 && p[0].shared == 11,
	   "threads: the child is its own group, 11 pages shared with the threads' address space");
	/* Thread 2 writes a COW page: full audits. */
	uint64_t va = VA_DATA + 3 * PG, fo, fn;
	struct cowvmm_hc_inspect c = cp(COWVMM_CP_COW_BEFORE, 2, 0);
	c.va = va;
	EQ(clean(&s, c), 0, "threads: COW before, written by a thread: clean");
	sim_cow(&s, 1, va, &fo, &fn);
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 2, .va = va,
					.frame_old = fo, .frame_new = fn };
	EQ(clean(&s, c), 0, "threads: COW after a thread's copy: clean");
	/* Thread 3 writes another: judged locally (the reverse map names the
	 * group's mappings by pid 1, the writer is pid 3). */
	audit_set_full_every(s.a, 1000);
	EQ(clean(&s, cp(COWVMM_CP_USER, 1, 0)), 0, "threads: full audit before the local ones");
	va = VA_DATA + 5 * PG;
	c = cp(COWVMM_CP_COW_BEFORE, 3, 0);
	c.va = va;
	EQ(clean(&s, c), 0, "threads: local COW before by a thread: clean");
	OK(!audit_last_full(s.a), "threads: ... judged locally");
	sim_cow(&s, 2, va, &fo, &fn);
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 3, .va = va,
					.frame_old = fo, .frame_new = fn };
	EQ(clean(&s, c), 0, "threads: local COW after a thread's copy: clean");
	OK(!audit_last_full(s.a) && fo != fn, "threads: ... judged locally");
	/* A sibling thread wrote through the new PTE before the checkpoint
	 * stopped it (smpwrite2 on two vCPUs): not a bad copy. */
	va = VA_DATA + 6 * PG;
	c = cp(COWVMM_CP_COW_BEFORE, 2, 0);
	c.va = va;
	EQ(clean(&s, c), 0, "threads: COW before, sibling to write meanwhile: clean");
	sim_cow(&s, 1, va, &fo, &fn);
	frame_mem(&s, fn)[1] ^= 0x5a;
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 2, .va = va,
					.frame_old = fo, .frame_new = fn };
	EQ(clean(&s, c), 0, "threads: a copy a sibling thread already wrote to is no violation");
	frame_mem(&s, fn)[1] ^= 0x5a;
	/* The child now holds the only reference to the old frame: reuse. */
	c = cp(COWVMM_CP_COW_BEFORE, 4, 0);
	c.va = va;
	EQ(clean(&s, c), 0, "threads: the child's reuse, before: clean");
	sim_cow(&s, 3, va, &fo, &fn);
	c = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_COW_AFTER, .pid = 4, .va = va,
					.frame_old = fo, .frame_new = fn };
	EQ(clean(&s, c), 0, "threads: the child's reuse, after: clean");
	OK(fo == fn && !audit_last_full(s.a), "threads: reuse judged locally");
	EQ(clean(&s, cp(COWVMM_CP_USER, 1, 0)), 0, "threads: a full audit agrees");
	/* A fork checkpoint whose child is a thread on its parent's tables. */
	unsigned n;
	OK(finds(&s, cp(COWVMM_CP_FORK, 1, 2), AV_FORK, &n) && n == 1,
	   "threads: a 'forked child' on its parent's page tables: one fork violation (%u)", n);
	sim_free(&s);
}

/* (b) Two processes (two groups) on one page-table root. */
static void test_threads_two_groups(void)
{
	struct sim s;
	threads(&s);
	set_i32(&s, 2, TGID_OFF, 3); /* pid 3 leads a group of its own, on pid 1's tables */
	unsigned n;
	OK(finds(&s, cp(COWVMM_CP_USER, 1, 0), AV_PROC, &n) && !has_kind(&s, AV_REFCOUNT) &&
	   !has_kind(&s, AV_TABLE_SHARED),
	   "threads: two groups sharing a cr3: a process-table violation, no refcount noise (%u violation(s))", n);
	size_t nv;
	const struct audit_violation *v = audit_violations(s.a, &nv, NULL);
	OK(nv == 1 && v[0].pid == 1 && v[0].pid2 == 3, "threads: ... naming pid 1 (the tables' owner) and pid 3");
	sim_free(&s);
}

/* (c) A thread whose leader's slot is gone; a leader slot that leads no
 * group; two threads of one group on two roots. */
static void test_threads_no_leader(void)
{
	struct sim s;
	threads(&s);
	set_i32(&s, 0, 0, 0); /* the leader's slot freed under its threads */
	set_i32(&s, 0, 8, COWVMM_PSTATE_UNUSED);
	unsigned n;
	OK(finds(&s, cp(COWVMM_CP_USER, 2, 0), AV_PROC, &n) && n == 2,
	   "threads: leader's slot gone: each thread a process-table violation (%u violation(s))", n);
	size_t np;
	const struct audit_proc *p = audit_procs(s.a, &np);
	OK(np == 2 && p[0].as_pid == 2 && p[1].as_pid == 2, "threads: ... the tables walked once, as pid 2's");
	sim_free(&s);

	threads(&s);
	set_i32(&s, 0, TGID_OFF, 3); /* slot of pid 1 claims to be a thread of 3 */
	OK(finds(&s, cp(COWVMM_CP_USER, 2, 0), AV_PROC, &n),
	   "threads: the tgid names an entry that leads no group: caught (%u violation(s))", n);
	sim_free(&s);

	threads(&s);
	sim_proc(&s, 2, 3, 1, "init"); /* pid 3 on tables of its own... */
	set_i32(&s, 2, TGID_OFF, 1);    /* ... but a thread of group 1 */
	OK(finds(&s, cp(COWVMM_CP_USER, 2, 0), AV_PROC, &n) && n == 1,
	   "threads: two live threads of one group on different cr3s: caught (%u violation(s))", n);
	sim_free(&s);

	/* Found at a COW checkpoint judged locally too (the full audit it
	 * falls back on reads the table again). */
	threads(&s);
	audit_set_full_every(s.a, 1000);
	EQ(clean(&s, cp(COWVMM_CP_USER, 1, 0)), 0, "threads: clean before the leader's slot goes");
	set_i32(&s, 0, 0, 0);
	set_i32(&s, 0, 8, COWVMM_PSTATE_UNUSED);
	struct cowvmm_hc_inspect c = cp(COWVMM_CP_COW_BEFORE, 2, 0);
	c.va = VA_TEXT; /* not COW: the point is the process table */
	OK(finds(&s, c, AV_PROC, &n) && audit_last_full(s.a),
	   "threads: a missing leader is found at a COW checkpoint meant to be local (%u violation(s))", n);
	sim_free(&s);
}

/* (d) The leader is a ZOMBIE without tables, its threads run on: the
 * regions still come from its slot, and the region check still bites. */
static void zombie_leader(struct sim *s)
{
	char err[200];
	threads(s);
	s->d.off_regions = REG_OFF;
	s->d.off_nregions = NREG_OFF;
	s->d.max_regions = MAX_REG;
	s->d.region_stride = sizeof(struct cowvmm_region);
	if (audit_set_descriptor(s->a, &s->d, err, sizeof err))
		printf("# descriptor refused: %s\n", err);
	set_i32(s, 0, 8, COWVMM_PSTATE_ZOMBIE);
	set_u64(s, 0, 16, 0);
	sim_fork(s, 1, 3, 4); /* thread 2 forks pid 4 */
}

static void test_threads_zombie_leader(void)
{
	struct sim s;
	zombie_leader(&s);
	EQ(clean(&s, cp(COWVMM_CP_FORK, 2, 4)), 0,
	   "threads: a zombie leader's thread forks: clean, with the leader's regions");
	size_t np;
	const struct audit_proc *p = audit_procs(s.a, &np);
	OK(np == 4 && p[0].as_pid == 0 && p[1].as_pid == 2 && p[2].as_pid == 2,
	   "threads: the leader has no address space; the threads' is walked as pid 2's (the lowest)");
	sim_free(&s);

	zombie_leader(&s);
	*sim_pte(&s, 1, VA_DATA + 3 * PG) &= ~COWVMM_PTE_COW; /* the thread's data page: read-only, not COW */
	unsigned n;
	OK(finds(&s, cp(COWVMM_CP_FORK, 2, 4), AV_REGION, &n),
	   "threads: a data page of the thread that lost its COW flag: caught as region (%u violation(s))", n);
	size_t nv;
	const struct audit_violation *v = audit_violations(s.a, &nv, NULL);
	OK(nv >= 1 && v[0].kind == AV_REGION && v[0].pid == 2 && v[0].va == VA_DATA + 3 * PG,
	   "threads: ... naming pid 2 and the page");
	sim_free(&s);
}

/* (e) A guest without threads (off_tgid 0): every entry its own group, the
 * tgid bytes ignored, the fork scenario as before; entries sharing a cr3
 * are then processes sharing tables. */
static void test_threads_off(void)
{
	struct sim s;
	char err[200];
	scenario(&s, RAM);
	s.d.proc.off_tgid = 0;
	OK(!audit_set_descriptor(s.a, &s.d, err, sizeof err), "no threads: off_tgid 0 accepted");
	set_i32(&s, 1, TGID_OFF, 1); /* would make pid 2 a thread of 1 */
	EQ(clean(&s, cp(COWVMM_CP_FORK, 1, 2)), 0, "no threads: the fork scenario audits clean");
	size_t np;
	const struct audit_proc *p = audit_procs(s.a, &np);
	OK(np == 2 && p[0].tgid == 1 && p[1].tgid == 2 && p[0].as_pid == 1 && p[1].as_pid == 2 &&
	   p[0].pages == 11 && p[1].pages == 11, "no threads: tgid = pid, each walked on its own");
	sim_free(&s);

	threads(&s);
	s.d.proc.off_tgid = 0;
	audit_set_descriptor(s.a, &s.d, err, sizeof err);
	unsigned n;
	OK(finds(&s, cp(COWVMM_CP_USER, 1, 0), AV_PROC, &n) && n == 2,
	   "no threads: three entries on one cr3 are three processes sharing tables (%u violation(s))", n);
	sim_free(&s);
}

/* --dump-pt and --dot with threads: a group's tables once, the others named. */
static size_t count(const char *text, const char *what)
{
	size_t n = 0;
	for (const char *c = text; (c = strstr(c, what)); c++)
		n++;
	return n;
}

static void test_threads_outputs(void)
{
	struct sim s;
	threads(&s);
	sim_fork(&s, 2, 3, 4); /* thread 3 forks pid 4 */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ptdump(f, audit_books(s.a), -1);
	fclose(f);
	OK(strstr(buf, "pid 1 (init) ppid 0") && strstr(buf, "pid 2 (thread of 1) (init) ppid 0") &&
	   strstr(buf, "pid 3 (thread of 1) (init)") && strstr(buf, "pid 4 (child) ppid 3"),
	   "dump: every entry listed, threads as threads of 1");
	OK(count(buf, "same address space as pid 1 (not dumped again)") == 2 && count(buf, " info mem ") == 2 &&
	   count(buf, " info tlb ") == 2, "dump: the group's tables once (pid 1), pids 2 and 3 point there; pid 4's once");
	free(buf);
	f = open_memstream(&buf, &len);
	ptdump(f, audit_books(s.a), 3);
	fclose(f);
	OK(strstr(buf, "pid 3 (thread of 1)") && count(buf, " info mem ") == 1, "dump of one thread: its group's tables");
	free(buf);

	char dir[] = "/tmp/test-audit-dot.XXXXXX";
	OK(mkdtemp(dir) != NULL, "threads: temporary directory");
	EQ(dot_write(NULL, dir, "threads", "two threads", audit_books(s.a), 2, 3, 0), 0, "dot of two threads written");
	EQ(dot_write(NULL, dir, "fork", "a thread's fork", audit_books(s.a), 3, 4, 0), 0, "dot of a thread's fork written");
	char path[256], text[65536];
	snprintf(path, sizeof path, "%s/threads.dot", dir);
	f = fopen(path, "r");
	size_t got = f ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f)
		fclose(f);
	text[got] = 0;
	OK(strstr(text, "cluster_2") && !strstr(text, "cluster_3") && strstr(text, "pid 3: same address space as pid 2") &&
	   strstr(text, "pid 2 (thread of 1) (init)"), "dot: one group's tables drawn once, the other thread named");
	snprintf(path, sizeof path, "%s/fork.dot", dir);
	f = fopen(path, "r");
	got = f ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f)
		fclose(f);
	text[got] = 0;
	OK(strstr(text, "cluster_3") && strstr(text, "cluster_4") && strstr(text, "pid 3 (thread of 1) (init)"),
	   "dot: a thread's fork draws both address spaces");
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd))
		printf("# could not remove %s\n", dir);
	sim_free(&s);
}

int main(void)
{
	test_clean();
	test_breakages();
	test_cow_defects();
	test_cow_refcount_wrap();
	test_proc_args();
	test_mutations();
	test_local();
	test_dirty();
	test_regions();
	test_outputs();
	test_bench();
	test_budget();
	test_dump_bound();
	test_cow_before_pte();
	test_local_fallback_proc();
	test_threads_clean();
	test_threads_two_groups();
	test_threads_no_leader();
	test_threads_zombie_leader();
	test_threads_off();
	test_threads_outputs();
	return tap_done();
}
