/* cases_volume.c — catalogue 6, 15, 16: fork chains, a thousand fork/exit cycles, a 64 MiB fork. */
#include "cowtest.h"

/* The byte a page holds when process `level` last wrote it. */
static uint8_t pat(int level, int page)
{
	return (uint8_t)(0x20 + level * 16 + page);
}

/* ---- 6. Fork chain: runner (level 0) -> L1 -> L2 -> L3 -> L4.  Every level
 * writes a random subset of pages before and after forking the next; each
 * process tracks whose pattern every page must hold (its own model) and checks
 * it when told to exit; the levels exit in a random order. */
enum { DEPTH = 4, CPAGES = 8 };

static void chain_write(struct ctx *c, uint8_t *r, uint8_t *tag, int level, uint64_t *rng)
{
	for (int i = 0; i < CPAGES; i++) {
		if (rand64(rng) & 1)
			continue;
		memset(r + i * PAGE, pat(level, i), PAGE);
		tag[i] = (uint8_t)level;
		expect_page(c, r + i * PAGE, M_PRIVATE(ANY), "page just written");
	}
}

static void chain_verify(struct ctx *c, uint8_t *r, const uint8_t *tag)
{
	char what[64];
	for (int i = 0; i < CPAGES; i++) {
		snprintf(what, sizeof what, "page %d (last written by level %d)", i, tag[i]);
		expect_fill(c, r + i * PAGE, PAGE, pat(tag[i], i), what);
	}
}

static const char *const level_name[DEPTH + 1] = { "runner", "L1", "L2", "L3", "L4" };

int t_chain(struct ctx *c)
{
	uint8_t *r = map_pages(c, CPAGES, 0);
	if (!r)
		return CASE_FAIL;
	uint8_t tag[CPAGES];
	for (int i = 0; i < CPAGES; i++) {
		memset(r + i * PAGE, pat(0, i), PAGE);
		tag[i] = 0;
	}
	struct gate turn[DEPTH + 1], done;
	for (int l = 1; l <= DEPTH; l++)
		if (!gate_open(c, &turn[l]))
			return CASE_FAIL;
	if (!gate_open(c, &done))
		return CASE_FAIL;
	diag(c, "seed %lu", (unsigned long)c->seed);
	int level = 0, l1pid = 0;
	for (;;) {
		uint64_t rng = c->seed * 0x9e3779b97f4a7c15ull + (uint64_t)level + 1;
		chain_verify(c, r, tag); /* what the parent had when it forked us */
		chain_write(c, r, tag, level, &rng);
		int pid = level < DEPTH ? xfork(c) : 1;
		if (pid < 0)
			break;
		if (pid == 0) {
			level++;
			c->who = level_name[level];
			continue;
		}
		if (level == 0)
			l1pid = pid;
		chain_write(c, r, tag, level, &rng); /* writes while the next level shares */
		chain_verify(c, r, tag);
		expect_checkpoint(c, CP(6, level));
		break;
	}
	if (level > 0) {
		gate_post(&done, (uint8_t)level);
		gate_wait(&turn[level]);
		chain_verify(c, r, tag);
		/* Exit without reaping: a child still alive becomes an orphan. */
		gate_post(&done, (uint8_t)(0x40 | level | (c->failures ? 0x80 : 0)));
		child_exit(c);
	}
	for (int l = 1; l <= DEPTH; l++) {
		int v = gate_wait(&done);
		expect_true(c, v >= 1 && v <= DEPTH, "ready message %d from the chain", v);
	}
	/* A random exit order (Fisher-Yates on 1..DEPTH). */
	int order[DEPTH];
	uint64_t rng = c->seed ^ 0xc0ffee;
	for (int i = 0; i < DEPTH; i++)
		order[i] = i + 1;
	for (int i = DEPTH - 1; i > 0; i--) {
		int j = (int)(rand64(&rng) % (uint64_t)(i + 1));
		int t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	diag(c, "exit order L%d L%d L%d L%d", order[0], order[1], order[2], order[3]);
	for (int i = 0; i < DEPTH; i++) {
		gate_post(&turn[order[i]], 0);
		int v = gate_wait(&done);
		expect_true(c, v == (0x40 | order[i]), "L%d reported 0x%x (0x80 = its own checks failed)",
			    order[i], v);
		chain_verify(c, r, tag);
		expect_checkpoint(c, CP(6, 10 + i));
	}
	reap(c, l1pid, ST_EXIT(0), "L1");
	chain_verify(c, r, tag);
	for (int l = 1; l <= DEPTH; l++)
		gate_close(&turn[l]);
	gate_close(&done);
	return case_result(c);
}

/* ---- 15. A thousand fork/exit/wait cycles, up to three siblings alive at once,
 * each writing its own pattern while the parent keeps writing too. */
enum { CYCLES = 1000, SIBLINGS = 3, VPAGES = 4 };

int t_cycles(struct ctx *c)
{
	uint8_t *r = map_pages(c, VPAGES, 0);
	if (!r)
		return CASE_FAIL;
	uint8_t val[VPAGES];
	for (int i = 0; i < VPAGES; i++) {
		val[i] = (uint8_t)(0x30 + i);
		memset(r + i * PAGE, val[i], PAGE);
	}
	struct counts base, end;
	warm_stack();
	snap(&base);
	int pids[SIBLINGS] = { 0 }, expect_code[SIBLINGS] = { 0 };
	uint64_t rng = c->seed + 15;
	int bad = 0;
	for (int n = 0; n < CYCLES + SIBLINGS; n++) {
		int slot = n % SIBLINGS;
		if (pids[slot] > 0) {
			int st = 0, rc = waitpid(pids[slot], &st, 0);
			if (rc != pids[slot] || st != ST_EXIT(expect_code[slot])) {
				char sb[32];
				if (bad++ < 5)
					fail(c, "cycle %d: waitpid(%d) = %d, status %s, expected exit(%d)", n,
					     pids[slot], rc, status_str(st, sb, sizeof sb), expect_code[slot]);
			}
			pids[slot] = 0;
		}
		if (n >= CYCLES)
			continue;
		int page = (int)(rand64(&rng) % VPAGES);
		int pid = fork();
		if (pid == 0) {
			/* Sibling: the parent's values at fork time, then its own write. */
			int ok = 1;
			for (int i = 0; i < VPAGES; i++)
				ok &= peek(r + i * PAGE) == val[i] && peek(r + i * PAGE + PAGE - 1) == val[i];
			uint8_t mine = (uint8_t)(0x80 | (n & 0x7f));
			memset(r + page * PAGE, mine, 64);
			ok &= peek(r + page * PAGE + 63) == mine && peek(r + page * PAGE + 64) == val[page];
			exit(ok ? (n & 0x3f) : 0x40);
		}
		if (pid < 0) {
			fail(c, "cycle %d: fork() returned %d", n, pid);
			break;
		}
		pids[slot] = pid;
		expect_code[slot] = n & 0x3f;
		/* The parent writes too, while the siblings share its pages. */
		int pp = (int)(rand64(&rng) % VPAGES);
		val[pp] = (uint8_t)(val[pp] + 1);
		memset(r + pp * PAGE, val[pp], PAGE);
		if (n % 100 == 99)
			expect_checkpoint(c, CP(15, n / 100));
	}
	for (int i = 0; i < SIBLINGS; i++)
		if (pids[i] > 0)
			reap(c, pids[i], ST_EXIT(expect_code[i]), "last siblings");
	for (int i = 0; i < VPAGES; i++)
		expect_fill(c, r + i * PAGE, PAGE, val[i], "parent's page after all cycles");
	snap(&end);
	expect_delta(c, &base, &end,
		     (struct counts_delta){ .copies = D_ANY, .reuses = D_ANY, .zero_fills = D_ANY },
		     "all siblings reaped");
	expect_eq(c, end.forks - base.forks, CYCLES, "successful forks counted");
	return case_result(c);
}

/* ---- 16. Fork of 64 MiB: every page shared (same frame, COW, refcount 2),
 * the child's copies correct, the parent's pages then reused in place. */
enum { BIG_PAGES = 16384 };

static uint64_t big_word(int who, uint64_t i)
{
	return ((uint64_t)who << 56) ^ (i * 0x9e3779b97f4a7c15ull);
}

/* Checks every page's model quietly; diagnoses the first few mismatches. */
static void big_check_models(struct ctx *c, uint8_t *r, const uint64_t *fr, struct page_model m, const char *what)
{
	int bad = 0;
	for (uint64_t i = 0; i < BIG_PAGES; i++) {
		struct cow_vmquery q;
		memset(&q, 0, sizeof q);
		vmquery(r + i * PAGE, &q);
		m.frame = fr ? fr[i] : ANY;
		bool ok = q.present && q.frame == (fr ? fr[i] : q.frame) && q.refcount == m.ref &&
			  q.writable == (uint32_t)m.writable && q.cow == (uint32_t)m.cow;
		if (!ok && bad++ < 3)
			expect_page(c, r + i * PAGE, m, what);
	}
	if (bad > 3)
		fail(c, "%s: %d of %d pages wrong", what, bad, BIG_PAGES);
}

static void big_check_words(struct ctx *c, uint8_t *r, int who, const char *what)
{
	int bad = 0;
	for (uint64_t i = 0; i < BIG_PAGES; i++) {
		volatile uint64_t *w = (volatile uint64_t *)(r + i * PAGE);
		if (w[0] != big_word(who, i) || w[511] != ~big_word(who, i)) {
			if (bad++ < 3)
				fail(c, "%s: page %lu holds 0x%lx/0x%lx, expected 0x%lx/0x%lx", what,
				     (unsigned long)i, (unsigned long)w[0], (unsigned long)w[511],
				     (unsigned long)big_word(who, i), (unsigned long)~big_word(who, i));
		}
	}
	if (bad > 3)
		fail(c, "%s: %d of %d pages wrong", what, bad, BIG_PAGES);
}

static void big_fill(uint8_t *r, int who)
{
	for (uint64_t i = 0; i < BIG_PAGES; i++) {
		volatile uint64_t *w = (volatile uint64_t *)(r + i * PAGE);
		w[0] = big_word(who, i);
		w[511] = ~big_word(who, i);
	}
}

int t_big(struct ctx *c)
{
	struct cow_meminfo mi;
	meminfo(&mi);
	uint64_t need = 2 * BIG_PAGES + BIG_PAGES / 8 + 2048;
	if (mi.free_frames < need)
		return skip(c, "needs %lu free frames (run the VMM with -m 256M), has %lu",
			    (unsigned long)need, (unsigned long)mi.free_frames);
	uint8_t *r = mmap_anon(BIG_PAGES * PAGE, PROT_READ | PROT_WRITE);
	uint64_t *fr = mmap_anon(BIG_PAGES * sizeof(uint64_t), PROT_READ | PROT_WRITE);
	if (r == NULL || IS_ERR(r) || fr == NULL || IS_ERR(fr))
		return fail(c, "mmap_anon of 64 MiB returned %p", (void *)r), CASE_FAIL;
	big_fill(r, 1);
	for (uint64_t i = 0; i < BIG_PAGES; i++)
		fr[i] = frame_of(r + i * PAGE);
	/* Every page is mapped now: none of the writes below may zero-fill. */
	struct gate up, down;
	if (!gate_open(c, &up) || !gate_open(c, &down))
		return CASE_FAIL;
	struct counts a, b;
	uint64_t t0 = rdtsc_serialized();
	int pid = xfork(c);
	uint64_t t1 = rdtsc_serialized();
	if (pid < 0)
		return CASE_FAIL;
	warm_stack();
	if (pid == 0) {
		c->who = "child";
		big_check_models(c, r, fr, M_COW(0, 2), "child's page after fork");
		big_check_words(c, r, 1, "child's view of the parent's data");
		expect_checkpoint(c, CP(16, 1));
		gate_post(&up, 0);
		gate_wait(&down); /* the parent has checked the shared state too */
		snap(&a);
		big_fill(r, 2);
		snap(&b);
		expect_delta(c, &a, &b, (struct counts_delta){ .free = -BIG_PAGES, .copies = BIG_PAGES },
			     "child writes every page");
		big_check_models(c, r, NULL, M_PRIVATE(0), "child's page after its write");
		big_check_words(c, r, 2, "child's own data");
		expect_checkpoint(c, CP(16, 2));
		gate_post(&up, 0);
		gate_wait(&down);
		child_exit(c);
	}
	diag(c, "fork of %d pages took %lu TSC ticks", BIG_PAGES, (unsigned long)(t1 - t0));
	gate_wait(&up);
	big_check_models(c, r, fr, M_COW(0, 2), "parent's page after fork");
	gate_post(&down, 0);
	gate_wait(&up);
	/* The child copied every page: the parent holds the only references now. */
	big_check_models(c, r, fr, M_COW(0, 1), "parent's page after the child copied");
	big_check_words(c, r, 1, "parent's data after the child wrote");
	snap(&a);
	big_fill(r, 3);
	snap(&b);
	expect_delta(c, &a, &b, (struct counts_delta){ .reuses = BIG_PAGES }, "parent rewrites every page");
	big_check_models(c, r, fr, M_PRIVATE(0), "parent's page after its write");
	big_check_words(c, r, 3, "parent's own data");
	gate_post(&down, 0);
	reap(c, pid, ST_EXIT(0), "child");
	expect_checkpoint(c, CP(16, 3));
	gate_close(&up);
	gate_close(&down);
	return case_result(c);
}
