/* cases_semantics.c — catalogue 1-5, 21, 22: sharing after fork, isolation, write-before-fork TLB, reuse, three sharers, mprotect keeping COW, the TLB after mprotect/munmap. */
#include "cowtest.h"

/* A const object the loader must place in a read-only region (rodata). */
const char cowtest_rodata[64] = "cowtest rodata probe: must stay shared and read-only";

static const volatile uint8_t *text_probe(void)
{
	return (const volatile uint8_t *)(uintptr_t)&t_share;
}

/* 1. After fork every user page of both processes maps the same frame, read-only
 * with the COW flag, refcount 2; text and rodata are shared read-only, no COW. */
int t_share(struct ctx *c)
{
	enum { N = 8 };
	uint8_t *p = map_pages(c, N, 0);
	if (!p)
		return CASE_FAIL;
	uint64_t fr[N];
	for (int i = 0; i < N; i++) {
		memset(p + i * PAGE, 0x10 + i, PAGE);
		fr[i] = frame_of(p + i * PAGE);
		expect_page(c, p + i * PAGE, M_PRIVATE(fr[i]), "filled page before fork");
	}
	const volatile uint8_t *ro[2] = { text_probe(), (const volatile uint8_t *)cowtest_rodata };
	const char *ro_name[2] = { "text page", "rodata page" };
	uint64_t ro_fr[2], ro_ref[2];
	for (int k = 0; k < 2; k++) {
		ro_fr[k] = frame_of(ro[k]);
		ro_ref[k] = ref_of(ro[k]);
		expect_page(c, ro[k], M_RO(ro_fr[k], ro_ref[k]), ro_name[k]);
	}
	expect_checkpoint(c, CP(1, 1));
	struct gate up, down;
	if (!gate_open(c, &up) || !gate_open(c, &down))
		return CASE_FAIL;

	int pid = xfork(c);
	if (pid < 0)
		return CASE_FAIL;
	/* Both sides see the same model while both are alive. */
	c->who = pid == 0 ? "child" : "parent";
	for (int i = 0; i < N; i++) {
		expect_page(c, p + i * PAGE, M_COW(fr[i], 2), "data page after fork");
		expect_fill(c, p + i * PAGE, PAGE, 0x10 + i, "data page contents after fork");
	}
	for (int k = 0; k < 2; k++)
		expect_page(c, ro[k], M_RO(ro_fr[k], ro_ref[k] + 1), ro_name[k]);
	expect_checkpoint(c, CP(1, pid == 0 ? 2 : 3));
	if (pid == 0) {
		gate_post(&up, 0);   /* checked while the parent is alive */
		gate_wait(&down);    /* stay alive until the parent checked too */
		child_exit(c);
	}
	gate_wait(&up);
	gate_post(&down, 0);
	reap(c, pid, ST_EXIT(0), "child");
	/* The child's references are gone; the parent's PTEs stay COW until written. */
	for (int i = 0; i < N; i++)
		expect_page(c, p + i * PAGE, M_COW(fr[i], 1), "data page after the child was reaped");
	for (int k = 0; k < 2; k++)
		expect_page(c, ro[k], M_RO(ro_fr[k], ro_ref[k]), ro_name[k]);
	gate_close(&up);
	gate_close(&down);
	return case_result(c);
}

/* 2. Isolation both ways: the first writer gets a private copy, the other keeps
 * the old frame and value, and then reuses it in place. */
static void isolate_once(struct ctx *c, bool child_first)
{
	uint8_t *x = map_pages(c, 1, 'P');
	if (!x)
		return;
	uint64_t f = frame_of(x);
	struct gate up, down;
	if (!gate_open(c, &up) || !gate_open(c, &down))
		return;
	struct counts a, b;
	int pid = xfork(c);
	if (pid < 0)
		return;
	warm_stack();
	bool first = (pid == 0) == child_first;
	c->who = pid == 0 ? (child_first ? "child (writes first)" : "child (writes second)")
			  : (child_first ? "parent (writes second)" : "parent (writes first)");
	struct gate *tx = pid == 0 ? &up : &down, *rx = pid == 0 ? &down : &up;
	/* Whoever measures runs while the other is blocked in a read on a warm stack. */
	if (first) {
		gate_wait(rx); /* the other one is warm and blocked */
		measured_poke(x, 'f', &a, &b);
		expect_delta(c, &a, &b, D_COPY, "first write (refcount 2)");
		expect_page(c, x, M_PRIVATE(ANY), "page after the first write");
		expect_true(c, frame_of(x) != f, "first writer still maps the shared frame 0x%lx",
			    (unsigned long)f);
		expect_eq(c, peek(x), 'f', "first writer reads its own write");
		expect_fill(c, x + 1, PAGE - 1, 'P', "rest of the copied page");
		expect_checkpoint(c, CP(2, 1));
		gate_post(tx, 0);
		gate_wait(rx); /* the second writer is done */
	} else {
		gate_post(tx, 0);
		gate_wait(rx); /* the first writer copied */
		expect_page(c, x, M_COW(f, 1), "page after the other process copied");
		expect_fill(c, x, PAGE, 'P', "old contents after the other process wrote");
		measured_poke(x, 's', &a, &b);
		expect_delta(c, &a, &b, D_REUSE, "second write (refcount 1)");
		expect_page(c, x, M_PRIVATE(f), "page after the second write");
		expect_checkpoint(c, CP(2, 2));
		gate_post(tx, 0);
	}
	if (pid == 0)
		child_exit(c);
	reap(c, pid, ST_EXIT(0), "child");
	/* Parent's final view: its own value, its own page. */
	expect_eq(c, peek(x), first ? 'f' : 's', "parent's value at the end");
	expect_page(c, x, M_PRIVATE(first ? ANY : f), "parent's page at the end");
	gate_close(&up);
	gate_close(&down);
}

int t_isolate(struct ctx *c)
{
	isolate_once(c, true);
	c->who = "runner";
	isolate_once(c, false);
	return case_result(c);
}

/* 3. Write just before fork, write again at once after: the parent's cached
 * writable TLB entry must have been flushed when fork write-protected it. */
int t_tlb(struct ctx *c)
{
	enum { N = 4 };
	uint8_t *x = map_pages(c, N, 'A');
	uint8_t *y = map_pages(c, N, 'A');
	if (!x || !y)
		return CASE_FAIL;
	uint64_t fx[N], fy[N];
	for (int i = 0; i < N; i++) {
		fx[i] = frame_of(x + i * PAGE);
		fy[i] = frame_of(y + i * PAGE);
	}
	struct gate up, down;
	if (!gate_open(c, &up) || !gate_open(c, &down))
		return CASE_FAIL;
	/* Load writable TLB entries for every page right before fork. */
	for (int i = 0; i < N; i++) {
		poke(x + i * PAGE, 'A');
		poke(y + i * PAGE, 'A');
	}
	int pid = fork();
	if (pid > 0) {
		/* No call, no system call between fork's return and these writes. */
		for (int i = 0; i < N; i++)
			poke(x + i * PAGE, 'Z');
	} else if (pid == 0) {
		for (int i = 0; i < N; i++)
			poke(y + i * PAGE, 'z');
	} else {
		fail(c, "fork() returned %d", pid);
		return CASE_FAIL;
	}
	c->who = pid == 0 ? "child" : "parent";
	/* Each side keeps only its own ends, so a dead peer reads as EOF. */
	struct gate *tx = pid == 0 ? &up : &down, *rx = pid == 0 ? &down : &up;
	close(tx->r);
	close(rx->w);
	/* Own writes first: they need nothing from the other process. */
	volatile uint8_t *own = pid == 0 ? y : x;
	const uint64_t *fown = pid == 0 ? fy : fx;
	for (int i = 0; i < N; i++) {
		expect_eq(c, peek(own + i * PAGE), pid == 0 ? 'z' : 'Z', "own write after fork");
		expect_page(c, own + i * PAGE, M_PRIVATE(ANY), "page written right after fork");
		expect_true(c, frame_of(own + i * PAGE) != fown[i],
			    "page %d written right after fork still maps the pre-fork frame 0x%lx "
			    "(stale writable TLB entry: fork did not flush after write-protecting?)",
			    i, (unsigned long)fown[i]);
	}
	/* Then the other's pages: written by the other side, never seen here. */
	gate_post(tx, 0);
	if (gate_wait(rx) < 0)
		fail(c, "the other process died before it wrote");
	volatile uint8_t *other = pid == 0 ? x : y;
	const uint64_t *fother = pid == 0 ? fx : fy;
	for (int i = 0; i < N; i++) {
		expect_fill(c, other + i * PAGE, PAGE, 'A',
			    "page the other process wrote after fork: must keep the pre-fork value here");
		expect_page(c, other + i * PAGE, M_COW(fother[i], 1), "page the other process wrote");
	}
	expect_checkpoint(c, CP(3, pid == 0 ? 1 : 2));
	gate_post(tx, 0);
	gate_wait(rx);
	if (pid == 0)
		child_exit(c);
	reap(c, pid, ST_EXIT(0), "child");
	close(tx->w);
	close(rx->r);
	return case_result(c);
}

/* 4. Reuse at refcount 1: a write allocates nothing, keeps the frame, makes the
 * PTE writable again — after the child exited, and after the child copied. */
int t_reuse(struct ctx *c)
{
	struct counts a, b;
	/* (a) the child exits without touching the page. */
	uint8_t *x = map_pages(c, 1, 'R');
	if (!x)
		return CASE_FAIL;
	uint64_t f = frame_of(x);
	int pid = xfork(c);
	if (pid == 0)
		exit(0);
	if (pid < 0)
		return CASE_FAIL;
	reap(c, pid, ST_EXIT(0), "child that exits at once");
	warm_stack();
	expect_page(c, x, M_COW(f, 1), "page after the only other sharer was reaped");
	measured_poke(x, 'r', &a, &b);
	expect_delta(c, &a, &b, D_REUSE, "write after the child exited");
	expect_page(c, x, M_PRIVATE(f), "page after the write");
	expect_fill(c, x + 1, PAGE - 1, 'R', "rest of the reused page");
	expect_checkpoint(c, CP(4, 1));

	/* (b) the child copies first (refcount 2 -> 1 through its fault) and stays alive. */
	uint8_t *y = map_pages(c, 1, 'S');
	if (!y)
		return CASE_FAIL;
	f = frame_of(y);
	struct gate up, down;
	if (!gate_open(c, &up) || !gate_open(c, &down))
		return CASE_FAIL;
	pid = xfork(c);
	if (pid < 0)
		return CASE_FAIL;
	warm_stack();
	if (pid == 0) {
		c->who = "child";
		poke(y, 'c');
		expect_page(c, y, M_PRIVATE(ANY), "child's page after its write");
		gate_post(&up, 0);
		gate_wait(&down);
		expect_eq(c, peek(y), 'c', "child's value after the parent reused");
		expect_fill(c, y + 1, PAGE - 1, 'S', "rest of the child's copy");
		child_exit(c);
	}
	gate_wait(&up);
	expect_page(c, y, M_COW(f, 1), "parent's page after the child copied");
	measured_poke(y, 'p', &a, &b);
	expect_delta(c, &a, &b, D_REUSE, "parent write after the child copied");
	expect_page(c, y, M_PRIVATE(f), "parent's page after its write");
	expect_fill(c, y + 1, PAGE - 1, 'S', "rest of the parent's page");
	expect_checkpoint(c, CP(4, 2));
	gate_post(&down, 0);
	reap(c, pid, ST_EXIT(0), "child that copied");
	expect_eq(c, peek(y), 'p', "parent's value after the child exited");
	gate_close(&up);
	gate_close(&down);
	return case_result(c);
}

/* 5. Three sharers: the first writer copies (old frame -> 2), the second must
 * copy too (2 is not 1), the last holder reuses in place. */
int t_three(struct ctx *c)
{
	uint8_t *x = map_pages(c, 1, 'T');
	if (!x)
		return CASE_FAIL;
	uint64_t f = frame_of(x);
	struct gate toc, tog, done;
	if (!gate_open(c, &toc) || !gate_open(c, &tog) || !gate_open(c, &done))
		return CASE_FAIL;
	struct counts a, b;
	int cpid = xfork(c);
	if (cpid < 0)
		return CASE_FAIL;
	warm_stack();
	if (cpid == 0) {
		c->who = "child";
		int gpid = xfork(c);
		if (gpid < 0)
			child_exit(c);
		warm_stack();
		if (gpid == 0) {
			c->who = "grandchild";
			gate_post(&done, 'g');
			gate_wait(&tog); /* first writer */
			measured_poke(x, 'g', &a, &b);
			expect_delta(c, &a, &b, D_COPY, "first write of three sharers");
			expect_page(c, x, M_PRIVATE(ANY), "first writer's page");
			expect_true(c, frame_of(x) != f, "first writer kept the shared frame");
			gate_post(&done, 'g');
			gate_wait(&tog); /* quit */
			expect_eq(c, peek(x), 'g', "first writer's value at the end");
			expect_fill(c, x + 1, PAGE - 1, 'T', "first writer's copy");
			child_exit(c);
		}
		gate_post(&done, 'c');
		gate_wait(&toc); /* second writer */
		expect_page(c, x, M_COW(f, 2), "second writer's page before its write");
		measured_poke(x, 'c', &a, &b);
		expect_delta(c, &a, &b, D_COPY, "second write: refcount 2 must copy, not reuse");
		expect_page(c, x, M_PRIVATE(ANY), "second writer's page");
		expect_true(c, frame_of(x) != f, "second writer kept the frame still mapped by the parent");
		gate_post(&done, 'c');
		gate_wait(&toc); /* quit */
		reap(c, gpid, ST_EXIT(0), "grandchild");
		expect_eq(c, peek(x), 'c', "second writer's value at the end");
		expect_fill(c, x + 1, PAGE - 1, 'T', "second writer's copy");
		child_exit(c);
	}
	gate_wait(&done);
	gate_wait(&done);
	expect_page(c, x, M_COW(f, 3), "page shared by three");
	expect_checkpoint(c, CP(5, 1));
	gate_post(&tog, 0);
	gate_wait(&done);
	expect_page(c, x, M_COW(f, 2), "parent's page after the grandchild copied");
	expect_checkpoint(c, CP(5, 2));
	gate_post(&toc, 0);
	gate_wait(&done);
	expect_page(c, x, M_COW(f, 1), "parent's page after the child copied");
	measured_poke(x, 'p', &a, &b);
	expect_delta(c, &a, &b, D_REUSE, "last holder's write");
	expect_page(c, x, M_PRIVATE(f), "last holder's page");
	expect_fill(c, x + 1, PAGE - 1, 'T', "last holder's page");
	expect_checkpoint(c, CP(5, 3));
	gate_post(&tog, 0);
	gate_post(&toc, 0);
	reap(c, cpid, ST_EXIT(0), "child");
	return case_result(c);
}

/* 21. mprotect on a shared COW page: read-only and back to read-write must
 * leave it copy-on-write, so the writer gets its own copy and the other
 * sharer keeps the old contents. */
int t_mprotcow(struct ctx *c)
{
	uint8_t *x = map_pages(c, 1, 'M');
	if (!x)
		return CASE_FAIL;
	uint64_t f = frame_of(x);
	struct gate up, down;
	if (!gate_open(c, &up) || !gate_open(c, &down))
		return CASE_FAIL;
	int pid = xfork(c);
	if (pid < 0)
		return CASE_FAIL;
	if (pid == 0) {
		c->who = "child";
		/* Warm and blocked before the parent measures: a child still
		 * breaking COW on its stack inside the parent's measured write
		 * (a tick, or another CPU) would show in the global counters
		 * (seen audited on one CPU: "cow reuses changed by 2"). */
		warm_stack();
		gate_post(&up, 0);
		gate_wait(&down); /* the parent has written */
		expect_fill(c, x, PAGE, 'M', "child's page after the parent's mprotect(RO), mprotect(RW) and write");
		expect_page(c, x, M_COW(f, 1), "child's page: the pre-fork frame, its only sharer now");
		child_exit(c);
	}
	gate_wait(&up); /* the child is warm and (about to be) blocked */
	expect_eq(c, (uint64_t)mprotect(x, PAGE, PROT_READ), 0, "mprotect(PROT_READ)");
	expect_eq(c, (uint64_t)mprotect(x, PAGE, PROT_READ | PROT_WRITE), 0, "mprotect(PROT_READ|PROT_WRITE)");
	expect_page(c, x, M_COW(f, 2), "shared page after mprotect back to read-write (still COW)");
	warm_stack();
	struct counts a, b;
	measured_poke(x, 'n', &a, &b);
	expect_delta(c, &a, &b, D_COPY, "parent's write to the page shared after mprotect");
	expect_page(c, x, M_PRIVATE(ANY), "parent's page after its write");
	expect_true(c, frame_of(x) != f, "parent wrote the shared frame 0x%lx in place", (unsigned long)f);
	expect_eq(c, peek(x), 'n', "parent's byte");
	gate_post(&down, 0);
	reap(c, pid, ST_EXIT(0), "child");
	expect_checkpoint(c, CP(21, 1));
	gate_close(&up);
	gate_close(&down);
	return case_result(c);
}

/* Write p, then take the page away with `op` (mprotect read-only, munmap),
 * then write again with no system call in between: the second write must kill
 * the child with SIGSEGV.  The first write loads a writable translation into
 * the TLB; only the kernel's flush after changing the PTE removes it.  (An
 * audited run exits to the VMM at every checkpoint, and those exits flush the
 * TLB under nested SVM: this matters in --no-audit runs.) */
enum revoke { BY_MPROTECT, BY_MUNMAP };

static void stale_write(struct ctx *c, enum revoke op, const char *what)
{
	uint8_t *p = map_pages(c, 1, 'T');
	if (!p)
		return;
	int pid = xfork(c);
	if (pid < 0)
		return;
	if (pid == 0) {
		c->who = "child";
		int failed = c->failures; /* inherited from the parent's context */
		/* Make the page the child's own writable page first (fork shared it). */
		poke(p, 't');
		expect_page(c, p, M_PRIVATE(ANY), "page before revoking write");
		if (c->failures != failed)
			exit(2);
		poke(p, 'u'); /* refresh the writable TLB entry */
		int r = op == BY_MPROTECT ? mprotect(p, PAGE, PROT_READ) : munmap(p, PAGE);
		poke(p, 'v');
		fail(c, "%s: write after it returned %d succeeded (stale TLB entry: no flush?)", what, r);
		exit(3);
	}
	reap(c, pid, ST_SIG(SIGSEGV), what); /* exit(2): the check before failed; exit(3): the write succeeded */
}

/* 22. No stale writable translation after mprotect(PROT_READ) or munmap. */
int t_tlbprot(struct ctx *c)
{
	stale_write(c, BY_MPROTECT, "write to a page just made read-only by mprotect");
	stale_write(c, BY_MUNMAP, "write to a page just unmapped by munmap");
	return case_result(c);
}
