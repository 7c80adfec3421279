/* cowtest.c — in-guest fork/COW test suite: runs the selected cases, each in its own process, and prints TAP. */
#include "cowtest.h"

/*
 * Usage: cowtest [seed=N] [list] [CASE...]   (no CASE: all of them)
 *
 * Each case runs in a fresh "runner" process forked from here, so a crash in
 * one case cannot hide the others, and so that every frame the case used
 * (its mappings, page tables, pipes, children) must be back on the free list
 * once the runner and its descendants are reaped: that is checked here, for
 * every case, against the count taken just before the runner was forked.
 */

struct case_def {
	const char *name;
	case_fn fn;
	int nr; /* catalogue number */
};

static const struct case_def cases[] = {
	{ "share", t_share, 1 },
	{ "isolate", t_isolate, 2 },
	{ "tlb", t_tlb, 3 },
	{ "reuse", t_reuse, 4 },
	{ "three", t_three, 5 },
	{ "chain", t_chain, 6 },
	{ "text", t_text, 7 },
	{ "zero", t_zero, 8 },
	{ "kwrite", t_kwrite, 9 },
	{ "kpin", t_kpin, 10 },
	{ "forkfail", t_forkfail, 11 },
	{ "oom", t_oom, 12 },
	{ "ptfail", t_ptfail, 13 },
	{ "cycles", t_cycles, 15 },
	{ "big", t_big, 16 },
	{ "pipe_eof", t_pipe_eof, 17 },
	{ "sigaction", t_sigaction, 17 },
	{ "orphan", t_orphan, 17 },
	{ "wait", t_wait, 17 },
	{ "pinexit", t_pinexit, 18 },
	{ "forkbrk", t_forkbrk, 19 },
	{ "sbrkshrink", t_sbrkshrink, 20 },
	{ "mprotcow", t_mprotcow, 21 },
	{ "tlbprot", t_tlbprot, 22 },
	{ "orphanwake", t_orphanwake, 23 },
	{ "threads", t_threads, 24 },
	{ "smptlb", t_smptlb, 25 },
	{ "smpflush", t_smpflush, 26 },
	{ "smpwrite2", t_smpwrite2, 27 },
	{ "smpforkwr", t_smpforkwr, 28 },
	{ "preempt", t_preempt, 29 },
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* The runner tells main why it failed or skipped: one line on this pipe. */
static int note_fd[2] = { -1, -1 };

static _Noreturn void run_case(const struct case_def *d, uint64_t seed)
{
	struct ctx c;
	memset(&c, 0, sizeof c);
	c.name = d->name;
	c.who = "runner";
	c.seed = seed;
	c.nr = d->nr;
	close(note_fd[0]);
	warm_stack();
	int r = d->fn(&c);
	if (r == CASE_PASS && c.failures)
		r = CASE_FAIL;
	if (r != CASE_PASS) {
		char line[200];
		int n = snprintf(line, sizeof line, "%s\n", c.first[0] ? c.first : "no reason given");
		write(note_fd[1], line, (size_t)n);
	}
	exit(r);
}

/* Read the runner's one-line note (only called when it promised one). */
static void read_note(char *buf, int n)
{
	int i = 0;
	char ch;
	while (i < n - 1 && read(note_fd[0], &ch, 1) == 1 && ch != '\n')
		buf[i++] = ch == '#' ? '_' : ch; /* a '#' would cut the TAP directive */
	buf[i] = 0;
}

/* Wait until every process a case created is gone (orphans are reaped by
 * init, which may be us) and the free count settles; false on timeout. */
static bool settle(const struct counts *base, struct counts *now)
{
	for (int tries = 0; tries < 20000; tries++) {
		int st;
		while (waitpid(-1, &st, WNOHANG) > 0)
			;
		snap(now);
		if (now->nprocs <= base->nprocs && now->free == base->free)
			return true;
		yield();
	}
	return false;
}

/*
 * fork() for the runner, and in the parent yield() at once, before main writes
 * any memory.  The runner then runs first and its own writes copy the stack
 * pages it uses; so if the kernel forgot to flush the parent's TLB after
 * write-protecting it, main's stale writable entries can only reach frames
 * the runner no longer maps, and the failure shows up in the case that tests
 * it (tlb) instead of corrupting the harness.
 */
static int fork_runner(void)
{
	long pid;
	__asm__ volatile(
		"mov %[nfork], %%eax\n\t"
		"syscall\n\t"
		"test %%rax, %%rax\n\t"
		"jle 1f\n\t"
		"mov %%rax, %%r12\n\t"
		"mov %[nyield], %%eax\n\t"
		"syscall\n\t"
		"mov %%r12, %%rax\n"
		"1:"
		: "=a"(pid)
		: [nfork] "i"(SYS_fork), [nyield] "i"(SYS_yield)
		: "rcx", "r11", "r12", "memory");
	return (int)pid;
}

/* Run one case; returns true if it passed or skipped. */
static bool run_one(int tapnr, const struct case_def *d, uint64_t seed)
{
	struct counts base, now;
	snap(&base);
	int pid = fork_runner();
	if (pid == 0)
		run_case(d, seed);
	if (pid < 0) {
		printf("not ok %d - %s # fork of the runner returned %d\n", tapnr, d->name, pid);
		return false;
	}
	/* Wait as init does, for any child: the runner, or an orphan a case left
	 * to init (reaped here at once).  Blocking in waitpid(-1) is what lets
	 * orphanwake see whether reparenting a zombie wakes init. */
	int status = 0, rc;
	while ((rc = waitpid(-1, &status, 0)) > 0 && rc != pid)
		;
	char note[200] = "";
	char sbuf[32];
	bool ok = true, skipped = false;
	if (rc != pid) {
		snprintf(note, sizeof note, "waitpid(runner %d) returned %d", pid, rc);
		ok = false;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == CASE_PASS) {
		ok = true;
	} else if (WIFEXITED(status) && (WEXITSTATUS(status) == CASE_FAIL || WEXITSTATUS(status) == CASE_SKIP)) {
		read_note(note, sizeof note);
		skipped = WEXITSTATUS(status) == CASE_SKIP;
		ok = skipped;
	} else {
		snprintf(note, sizeof note, "runner %s", status_str(status, sbuf, sizeof sbuf));
		ok = false;
	}
	/* Every case must give back every frame it used. */
	if (!settle(&base, &now)) {
		printf("# %s: after reaping: %lu free frames, baseline %lu (%ld leaked); %lu processes, baseline %lu\n",
		       d->name, (unsigned long)now.free, (unsigned long)base.free,
		       (long)(base.free - now.free), (unsigned long)now.nprocs, (unsigned long)base.nprocs);
		if (ok) {
			snprintf(note, sizeof note, "free frames %lu after reaping, baseline %lu",
				 (unsigned long)now.free, (unsigned long)base.free);
			ok = skipped = false;
		}
	}
	int v = checkpoint(CP(d->nr, 99));
	if (v != 0) {
		printf("# %s: checkpoint after reaping: VMM audit verdict %d\n", d->name, v);
		if (ok) {
			snprintf(note, sizeof note, "audit after reaping failed");
			ok = skipped = false;
		}
	}
	if (skipped)
		printf("ok %d - %s # SKIP %s\n", tapnr, d->name, note);
	else if (ok)
		printf("ok %d - %s\n", tapnr, d->name);
	else
		printf("not ok %d - %s # %s\n", tapnr, d->name, note);
	return ok;
}

static const struct case_def *find_case(const char *name)
{
	for (int i = 0; i < NCASES; i++)
		if (strcmp(cases[i].name, name) == 0)
			return &cases[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct case_def *sel[64];
	int nsel = 0;
	uint64_t seed = 0x5eed;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "seed=", 5) == 0) {
			seed = (uint64_t)atol(argv[i] + 5);
		} else if (strcmp(argv[i], "list") == 0) {
			for (int k = 0; k < NCASES; k++)
				printf("%s\n", cases[k].name);
			return 0;
		} else if (nsel < 64 && find_case(argv[i])) {
			sel[nsel++] = find_case(argv[i]);
		} else {
			printf("Bail out! cowtest: unknown case '%s' (try: cowtest list)\n", argv[i]);
			return 2;
		}
	}
	if (nsel == 0)
		for (int i = 0; i < NCASES; i++)
			sel[nsel++] = &cases[i];

	/* Fault in the whole stack and the note pipe now, so nothing main does
	 * later allocates a frame that would blur the per-case baselines. */
	warm_stack();
	if (pipe(note_fd) != 0) {
		printf("Bail out! cowtest: pipe() failed\n");
		return 2;
	}
	printf("1..%d\n", nsel);
	printf("# cowtest: pid %d, seed=%lu\n", getpid(), (unsigned long)seed);
	int failed = 0;
	for (int i = 0; i < nsel; i++)
		if (!run_one(i + 1, sel[i], seed))
			failed++;
	printf("# cowtest: %d of %d cases failed\n", failed, nsel);
	return failed ? 1 : 0;
}
