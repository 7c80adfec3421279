/* cases_proc.c — catalogue 17, 19, 23 and the process semantics fork must copy: pipe EOF, signal table, heap break, reparenting, waking init for a zombie orphan, wait statuses. */
#include "cowtest.h"

/* Pipe EOF after fork: the reader sees EOF exactly when every write end in
 * every process is closed (fork copies the fd references). */
int t_pipe_eof(struct ctx *c)
{
	struct gate p, ga, gb;
	if (!gate_open(c, &p) || !gate_open(c, &ga) || !gate_open(c, &gb))
		return CASE_FAIL;
	int a = xfork(c);
	if (a == 0) {
		c->who = "writer A";
		close(p.r);
		gate_wait(&ga);
		expect_eq(c, (uint64_t)write(p.w, "A", 1), 1, "A's write");
		close(p.w);
		child_exit(c);
	}
	int b = xfork(c);
	if (b == 0) {
		c->who = "writer B";
		close(p.r);
		gate_wait(&gb);
		expect_eq(c, (uint64_t)write(p.w, "B", 1), 1, "B's write (A already exited)");
		child_exit(c); /* the write end closes with the process */
	}
	if (a < 0 || b < 0)
		return CASE_FAIL;
	close(p.w);
	p.w = -1;
	char ch = 0;
	gate_post(&ga, 0);
	expect_eq(c, (uint64_t)read(p.r, &ch, 1), 1, "read of A's byte");
	expect_eq(c, (uint64_t)ch, 'A', "A's byte");
	reap(c, a, ST_EXIT(0), "writer A");
	/* B still holds a write end: no EOF yet, B's byte must come through. */
	gate_post(&gb, 0);
	ch = 0;
	expect_eq(c, (uint64_t)read(p.r, &ch, 1), 1, "read after A closed (B still holds a write end: no EOF)");
	expect_eq(c, (uint64_t)ch, 'B', "B's byte");
	reap(c, b, ST_EXIT(0), "writer B");
	expect_eq(c, (uint64_t)read(p.r, &ch, 1), 0, "read once every write end is closed (EOF)");

	/* dup'ed write ends count too: EOF only after both are closed. */
	struct gate q;
	if (!gate_open(c, &q))
		return CASE_FAIL;
	int d = dup(q.w);
	expect_true(c, d >= 0, "dup() returned %d", d);
	int k = xfork(c);
	if (k == 0) {
		c->who = "dup holder";
		close(q.r);
		close(q.w);
		gate_wait(&ga);
		expect_eq(c, (uint64_t)write(d, "D", 1), 1, "write through the dup'ed end");
		child_exit(c);
	}
	close(q.w);
	close(d);
	q.w = -1;
	gate_post(&ga, 0);
	expect_eq(c, (uint64_t)read(q.r, &ch, 1), 1, "read through the dup'ed end");
	expect_eq(c, (uint64_t)ch, 'D', "byte through the dup'ed end");
	reap(c, k, ST_EXIT(0), "dup holder");
	expect_eq(c, (uint64_t)read(q.r, &ch, 1), 0, "EOF after the dup holder exited");
	gate_close(&q);
	gate_close(&p);
	gate_close(&ga);
	gate_close(&gb);
	return case_result(c);
}

/* The signal-action table is copied by fork, and changes stay per process. */
static void probe_handler(int sig)
{
	(void)sig;
}

int t_sigaction(struct ctx *c)
{
	const int sig = SIGPIPE;
	uint64_t h = (uint64_t)(uintptr_t)&probe_handler, old = 0, cur = 0;
	int rc = sigaction(sig, h, &old);
	expect_eq(c, (uint64_t)rc, 0, "sigaction() in the parent");
	int pid = xfork(c);
	if (pid == 0) {
		c->who = "child";
		uint64_t seen = 0;
		expect_eq(c, (uint64_t)sigaction(sig, h + 1, &seen), 0, "sigaction() in the child");
		expect_eq(c, seen, h, "handler inherited through fork");
		child_exit(c);
	}
	if (pid < 0)
		return CASE_FAIL;
	reap(c, pid, ST_EXIT(0), "child");
	expect_eq(c, (uint64_t)sigaction(sig, old, &cur), 0, "sigaction() restoring");
	expect_eq(c, cur, h, "parent's handler after the child changed its own");
	return case_result(c);
}

/* getppid() after fork, and reparenting of an orphan to init (pid 1). */
int t_orphan(struct ctx *c)
{
	struct gate g, done, alive;
	if (!gate_open(c, &g) || !gate_open(c, &done) || !gate_open(c, &alive))
		return CASE_FAIL;
	int me = getpid();
	int cpid = xfork(c);
	if (cpid == 0) {
		c->who = "child";
		int cme = getpid();
		expect_eq(c, (uint64_t)getppid(), (uint64_t)me, "child's getppid()");
		int gpid = xfork(c);
		if (gpid == 0) {
			c->who = "grandchild";
			expect_eq(c, (uint64_t)getppid(), (uint64_t)cme, "grandchild's getppid() while its parent lives");
			gate_post(&alive, 0);
			gate_wait(&g); /* the parent has exited and been reaped */
			/* Reparenting happens at the parent's exit, not later. */
			expect_eq(c, (uint64_t)getppid(), 1, "orphan's getppid() after its parent exited");
			gate_post(&done, c->failures ? 0x80 : 2);
			child_exit(c);
		}
		gate_wait(&alive); /* the grandchild has seen us as its parent */
		child_exit(c);     /* without waiting: the grandchild becomes an orphan */
	}
	if (cpid < 0)
		return CASE_FAIL;
	reap(c, cpid, ST_EXIT(0), "child");
	int st;
	expect_eq(c, (uint64_t)waitpid(-1, &st, WNOHANG), (uint64_t)-ECHILD,
		  "waitpid(-1) in the grandparent: the orphan is not its child");
	gate_post(&g, 0);
	expect_eq(c, (uint64_t)gate_wait(&done), 2, "orphan's report (0x80: its checks failed)");
	/* init reaps it; the runner's caller checks the frames come back. */
	gate_close(&g);
	gate_close(&done);
	gate_close(&alive);
	return case_result(c);
}

/* waitpid: exit codes, death by signal, kill(), WNOHANG, ECHILD, pid -1. */
int t_wait(struct ctx *c)
{
	int st = 0;
	expect_eq(c, (uint64_t)waitpid(-1, &st, 0), (uint64_t)-ECHILD, "waitpid(-1) with no children");
	int pid = xfork(c);
	if (pid == 0)
		exit(42);
	reap(c, pid, ST_EXIT(42), "exit(42)");

	pid = xfork(c);
	if (pid == 0) {
		volatile int *volatile unmapped = (volatile int *)16; /* opaque to the compiler */
		*unmapped = 1;
		exit(0);
	}
	reap(c, pid, ST_SIG(SIGSEGV), "write to an unmapped address");

	struct gate g;
	if (!gate_open(c, &g))
		return CASE_FAIL;
	pid = xfork(c);
	if (pid == 0) {
		gate_wait(&g); /* blocks forever: nobody posts */
		exit(0);
	}
	expect_eq(c, (uint64_t)waitpid(pid, &st, WNOHANG), 0, "WNOHANG on a live child");
	expect_eq(c, (uint64_t)kill(pid, SIGKILL), 0, "kill(SIGKILL)");
	reap(c, pid, ST_SIG(SIGKILL), "killed child");
	expect_eq(c, (uint64_t)waitpid(pid, &st, 0), (uint64_t)-ECHILD, "waitpid() of an already reaped child");
	expect_eq(c, (uint64_t)waitpid(getpid(), &st, 0), (uint64_t)-ECHILD, "waitpid() of oneself");

	/* pid -1 reaps whichever child ended; a given pid only that one. */
	int p1 = xfork(c);
	if (p1 == 0)
		exit(1);
	int p2 = xfork(c);
	if (p2 == 0) {
		gate_wait(&g);
		exit(2);
	}
	int got = waitpid(-1, &st, 0);
	expect_eq(c, (uint64_t)got, (uint64_t)p1, "waitpid(-1) while only the first child has exited");
	expect_status(c, st, ST_EXIT(1), "first child");
	gate_post(&g, 0);
	reap(c, p2, ST_EXIT(2), "second child");
	gate_close(&g);
	return case_result(c);
}

/* 19. fork copies the heap break: the child's sbrk(0) is the parent's, and the
 * child can grow its heap from there and use it, without touching the
 * parent's.  The break is set off a page boundary on purpose, so that a child
 * that got only the page-rounded heap end would differ too. */
int t_forkbrk(struct ctx *c)
{
	const long grow = 2 * (long)PAGE + 123;
	uint8_t *base = sbrk(grow);
	if (IS_ERR(base))
		return fail(c, "sbrk(%ld) in the runner (itself a child of fork) returned %p", grow,
			    (void *)base), CASE_FAIL;
	uint8_t *brk = sbrk(0);
	expect_eq(c, (uint64_t)(uintptr_t)brk, (uint64_t)(uintptr_t)(base + grow), "parent's break after sbrk");
	memset(base, 'H', (size_t)grow);
	int pid = xfork(c);
	if (pid < 0)
		return CASE_FAIL;
	if (pid == 0) {
		c->who = "child";
		expect_eq(c, (uint64_t)(uintptr_t)sbrk(0), (uint64_t)(uintptr_t)brk, "child's sbrk(0) after fork");
		expect_fill(c, base, (uint64_t)grow, 'H', "parent's heap contents seen by the child");
		/* Grow from the inherited break and use every new byte. */
		uint8_t *more = sbrk((long)PAGE);
		if (IS_ERR(more)) {
			fail(c, "child's sbrk(%lu) returned %p", (unsigned long)PAGE, (void *)more);
			child_exit(c);
		}
		expect_eq(c, (uint64_t)(uintptr_t)more, (uint64_t)(uintptr_t)brk, "child's sbrk(+PAGE): old break");
		memset(more, 'c', PAGE);
		expect_fill(c, more, PAGE, 'c', "child's new heap bytes");
		memset(base, 'h', (size_t)grow);
		expect_eq(c, (uint64_t)(uintptr_t)sbrk(0), (uint64_t)(uintptr_t)(brk + PAGE), "child's break after growing");
		child_exit(c);
	}
	reap(c, pid, ST_EXIT(0), "child");
	expect_eq(c, (uint64_t)(uintptr_t)sbrk(0), (uint64_t)(uintptr_t)brk, "parent's break after the child grew its own");
	expect_fill(c, base, (uint64_t)grow, 'H', "parent's heap after the child wrote its copy");
	void *old = sbrk(-grow);
	expect_eq(c, (uint64_t)(uintptr_t)old, (uint64_t)(uintptr_t)brk, "sbrk(-grow) giving the heap back");
	expect_checkpoint(c, CP(19, 1));
	return case_result(c);
}

/* 23. A zombie orphaned to init must wake init if init is blocked in
 * waitpid(-1): the grandchild exits first (a zombie of the child), then the
 * child exits, which hands the zombie to init.  Init (cowtest's main, blocked
 * in waitpid(-1) for the runner) must reap it at once, while the runner still
 * lives; a kernel that reparents without waking init leaves it a zombie until
 * some other exit happens to wake init. */
int t_orphanwake(struct ctx *c)
{
	if (getppid() != 1)
		return skip(c, "the runner's parent is pid %d, not init: the case needs cowtest to be init", getppid());
	struct counts base, now;
	snap(&base);
	int cpid = xfork(c);
	if (cpid < 0)
		return CASE_FAIL;
	if (cpid == 0) {
		c->who = "child";
		int gpid = xfork(c);
		if (gpid == 0)
			exit(0);
		/* kill(pid, 0) fails with ESRCH once the grandchild is a zombie. */
		int tries = 0;
		while (gpid > 0 && kill(gpid, 0) == 0 && tries++ < 10000)
			yield();
		expect_eq(c, (uint64_t)kill(gpid, 0), (uint64_t)-ESRCH, "kill(grandchild, 0): it must be a zombie");
		child_exit(c); /* without reaping it: the zombie goes to init */
	}
	reap(c, cpid, ST_EXIT(0), "child");
	/* Init only needs to be scheduled once; allow it many turns. */
	int turns = 0;
	for (snap(&now); now.nprocs > base.nprocs && turns < 1000; turns++) {
		yield();
		snap(&now);
	}
	/* Kept short: the TAP line shows only the first 160 characters. */
	expect_true(c, now.nprocs <= base.nprocs,
		    "zombie orphan not reaped by init in %d yields (%lu procs, %lu before fork): init not woken",
		    turns, (unsigned long)now.nprocs, (unsigned long)base.nprocs);
	return case_result(c);
}
