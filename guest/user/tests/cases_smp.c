/* cases_smp.c — catalogue 24-29: threads, and COW on several CPUs: the stale TLB after a COW break, flush before put, two writers on one COW page, fork beside a writing thread, preemption. */
#include "cowtest.h"

/*
 * These cases need threads (SYS_clone) and, except threads and preempt,
 * two CPUs: with one they skip.  What each checks is what a kernel gets
 * wrong on a multiprocessor, and each is meant to fail on the matching bug
 * kernel (`kbug=NAME` on the command line, guest/kernel/kernel.h):
 *   smptlb     noshootdown      a COW break not flushed on the sibling's CPU
 *   smpflush   putbeforeflush   the old frame dropped before that flush
 *   smpwrite2  norecheck        a COW copy installed without a re-check
 *   smpforkwr  forknoflush      fork's write-protect not flushed on the sibling's CPU
 *   preempt    notimer          (with one CPU) a spinning process never gives the CPU back
 * The stale-TLB cases can only fail unaudited: each audit exit flushes TLBs.
 * They pin their threads (SYS_setaffinity) so that the interleaving that
 * exposes the bug is forced rather than waited for (cow_rounds); smpwrite2's
 * window (the copy made with the mm lock dropped) is a few hundred
 * instructions, met by chance unless vmm --explore gives the other CPU the
 * turn inside it (tests/kvm/explore.kvm).
 */

#define STACK_PAGES 4
/* Bounded waits: spins first (the other thread runs on another CPU), then
 * yields, so a wait for a thread that has no CPU of its own still ends. */
#define SPIN_LIMIT 200000000ul

/* Shared state of one case's threads: one page of their own, written only
 * through these volatile fields. */
struct shared {
	volatile int stop;      /* the helper thread ends */
	volatile int done;      /* the helper thread has ended */
	volatile int round;     /* published by the main thread */
	volatile int seen;      /* the last round the helper thread checked */
	volatile uint64_t iters; /* helper loop count: proves it is running */
	volatile int bad_round; /* first round the helper saw a wrong byte, 0 if none */
	volatile uint8_t bad_byte, want_byte;
	volatile int go;        /* smpwrite2: both write now */
	volatile uint64_t counter; /* smpforkwr: the helper's last value written */
	volatile int pin;       /* 1 + the CPU the helper thread pins itself to, 0: none */
	uint8_t *page;          /* the page under test */
	int npages;
};

static int ncpus_online(void)
{
	struct cow_meminfo mi;
	memset(&mi, 0, sizeof mi);
	meminfo(&mi);
	return (int)mi.ncpus;
}

static struct cow_meminfo info(void)
{
	struct cow_meminfo mi;
	memset(&mi, 0, sizeof mi);
	meminfo(&mi);
	return mi;
}

/* Wait until *p >= want; false after the limit. */
static bool wait_ge(volatile int *p, int want)
{
	for (uint64_t i = 0; *p < want; i++) {
		if (i > SPIN_LIMIT)
			return false;
		if (i > 100000)
			yield();
	}
	return true;
}

static bool wait_iters(struct shared *s, uint64_t more)
{
	uint64_t want = s->iters + more;
	for (uint64_t i = 0; s->iters < want; i++) {
		if (i > SPIN_LIMIT)
			return false;
		if (i > 100000)
			yield();
	}
	return true;
}

static bool spawn(struct ctx *c, void (*fn)(void *), struct shared *s)
{
	uint8_t *stack = map_pages(c, STACK_PAGES, 0);
	if (!stack)
		return false;
	int tid = thread_create(fn, s, stack, STACK_PAGES * PAGE);
	if (tid <= 0)
		return fail(c, "thread_create returned %d", tid);
	return true;
}

static void stop_helper(struct ctx *c, struct shared *s)
{
	s->stop = 1;
	if (!wait_ge(&s->done, 1))
		fail(c, "the helper thread did not end");
}

static struct shared *new_shared(struct ctx *c, int npages)
{
	struct shared *s = (struct shared *)map_pages(c, 1, 0);
	uint8_t *p = map_pages(c, (uint64_t)npages, 0);
	if (!s || !p)
		return NULL;
	s->page = p;
	s->npages = npages;
	return s;
}

static uint8_t round_byte(int r)
{
	return (uint8_t)(0x40 + (r % 64));
}

/* ---- 24. Threads: one address space, one process --------------------------- */

static void thr_probe(void *arg)
{
	struct shared *s = arg;
	s->counter = ((uint64_t)getpid() << 32) | (uint32_t)gettid();
	s->page[0] = 0x5a; /* the main thread sees it: the same memory */
	s->done = 1;
}

static void thr_spin(void *arg)
{
	struct shared *s = arg;
	while (!s->stop)
		s->iters++;
	s->done = 1;
}

static void thr_exit_first(void *arg)
{
	struct shared *s = arg;
	wait_ge(&s->go, 1);
	thread_exit(0);
}

int t_threads(struct ctx *c)
{
	struct shared *s = new_shared(c, 1);
	if (!s)
		return CASE_FAIL;
	int me = getpid();
	expect_eq(c, (uint64_t)gettid(), (uint64_t)me, "a process's first thread id is its pid");
	if (!spawn(c, thr_probe, s))
		return CASE_FAIL;
	if (!wait_ge(&s->done, 1))
		return fail(c, "the new thread never ran");
	expect_eq(c, s->counter >> 32, (uint64_t)me, "getpid() in the thread (the process id)");
	int tid = (int)(uint32_t)s->counter;
	expect_true(c, tid > 0 && tid != me, "the thread has an id of its own (%d, process %d)", tid, me);
	expect_eq(c, peek(s->page), 0x5a, "the thread's write, seen by the main thread");

	/* exit() in one thread ends the whole process, spinning threads too. */
	int pid = xfork(c);
	if (pid == 0) {
		struct shared *t = new_shared(c, 1);
		if (!t || !spawn(c, thr_spin, t) || !wait_iters(t, 1000))
			exit(99);
		exit(7);
	}
	reap(c, pid, ST_EXIT(7), "process whose main thread called exit(7) beside a spinning thread");

	/* The last thread's thread_exit status is the process's.  "Last" made
	 * sure of: the other thread exits first (with 0), and the main thread
	 * waits until its slot is gone -- with two threads on two CPUs, a "go"
	 * flag alone lets them exit in either order. */
	pid = xfork(c);
	if (pid == 0) {
		struct shared *t = new_shared(c, 1);
		if (!t || !spawn(c, thr_exit_first, t))
			exit(99);
		uint64_t n0 = info().nprocs;
		t->go = 1;
		for (uint64_t i = 0; info().nprocs >= n0; i++)
			if (i > 1000000)
				exit(98);
			else
				yield();
		thread_exit(5); /* the last one: it ends the process, with 5 */
	}
	reap(c, pid, ST_EXIT(5), "process whose last thread called thread_exit(5)");

	/* kill reaches every thread; fork from a thread makes a process. */
	pid = xfork(c);
	if (pid == 0) {
		struct shared *t = new_shared(c, 1);
		if (!t || !spawn(c, thr_spin, t) || !spawn(c, thr_spin, t))
			exit(99);
		for (;;)
			t->iters++;
	}
	for (int i = 0; i < 3; i++)
		yield(); /* on one CPU each yield costs the spinners' time slices */
	expect_eq(c, (uint64_t)kill(pid, SIGKILL), 0, "kill of a process with three threads");
	reap(c, pid, ST_SIG(SIGKILL), "process of three spinning threads, killed");
	struct cow_meminfo mi = info();
	/* (the killed process may have died before its threads came) */
	expect_true(c, mi.threads >= 3, "threads created counted (%lu)", (unsigned long)mi.threads);
	return case_result(c);
}

/* ---- 25. Stale TLB after a COW break in a threaded process ----------------- */

#define TLB_ROUNDS 40
/* With the threads pinned (cow_rounds) each bug kernel is caught in the
 * first round when the vCPUs have host CPUs to themselves, within a few on
 * a loaded host; the correct kernel must pass them all.  (Unpinned, the
 * flush-before-put window was hit in one round of about 25.) */
#define FLUSH_ROUNDS 40

/* Thread B: read the page all the time (its TLB keeps the translation);
 * when a round is published, the page must hold that round's byte. */
/* The helper thread's first act when the case pins threads (cow_rounds). */
static void pin_helper(struct shared *s)
{
	if (s->pin)
		setaffinity(0, 1ull << (s->pin - 1));
}

/* The pinned cases (cow_rounds says why): this thread, and so every child
 * it forks, on CPU 0 only; the helper thread fn on CPU 1 only (it pins
 * itself first, pin_helper).  The runner is the case's own process: nothing
 * to undo afterwards.  False after a failure was reported. */
static bool spawn_pinned(struct ctx *c, void (*fn)(void *), struct shared *s)
{
	int rc = setaffinity(0, 1ull << 0);
	if (rc != 0)
		return fail(c, "setaffinity(0, CPU 0) returned %d", rc);
	s->pin = 1 + 1;
	return spawn(c, fn, s);
}

static void reader(void *arg)
{
	struct shared *s = arg;
	pin_helper(s);
	while (!s->stop) {
		int r = s->round;
		uint8_t v = peek(s->page);
		if (r != s->seen) {
			v = peek(s->page);
			if (v != round_byte(r) && !s->bad_round) {
				s->bad_round = r;
				s->bad_byte = v;
				s->want_byte = round_byte(r);
			}
			s->seen = r;
		}
		(void)v;
		s->iters++;
	}
	s->done = 1;
}

/* One round: fork (the page becomes COW, shared with the child, which keeps
 * it alive), let B read it, break COW by writing, publish.  With reuse in
 * mind (smpflush) the child may write the old frame in place once the
 * parent has let go of it.
 *
 * The interleaving is forced, not waited for: A (and so every child it
 * forks) runs on CPU 0 only, B on CPU 1 only (pinned before the case
 * starts: the caller sets s->pin before spawning B).  B is then alone on its
 * CPU, and the kernel switches away from a process only for another one that
 * may run there (sched_tick), so B's TLB keeps what it read across ticks --
 * only a shootdown empties it.  And the child can only run on A's CPU, when
 * A gives it away: on the put-before-flush bug kernel that is right between
 * the put and the late flush, which lets the child's in-place write reach B
 * through the stale entry -- in the first round when each vCPU has a host
 * CPU of its own; on a loaded host a vCPU descheduled by the host loses its
 * TLB now and then (seen: rounds 2 and 6 under make check -j2), hence the
 * rounds. */
static bool cow_rounds(struct ctx *c, struct shared *s, bool child_reuses)
{
	poke(s->page, round_byte(0));
	s->seen = 0;
	int rounds = child_reuses ? FLUSH_ROUNDS : TLB_ROUNDS;
	for (int r = 1; r <= rounds && !s->bad_round; r++) {
		struct gate g;
		if (!gate_open(c, &g))
			return false;
		int pid = xfork(c);
		if (pid < 0)
			return false;
		if (pid == 0) {
			c->who = "child";
			uint8_t before = peek(s->page);
			if (child_reuses) {
				/* As soon as the parent drops its reference, write: the
				 * frame is ours alone then, so the write reuses it. */
				for (uint64_t i = 0; ref_of(s->page) != 1 && i < SPIN_LIMIT / 100; i++)
					;
				poke(s->page, 0xcc);
			}
			gate_wait(&g);
			expect_eq(c, before, round_byte(r - 1), "child's byte at fork");
			child_exit(c);
		}
		/* B has read the page since fork's shootdown (its TLB holds it). */
		if (!wait_iters(s, 50))
			return fail(c, "round %d: the reader thread does not run", r);
		poke(s->page, round_byte(r)); /* COW break: copy, shootdown */
		s->round = r;
		if (!wait_ge(&s->seen, r))
			return fail(c, "round %d: the reader never checked", r);
		gate_post(&g, 0);
		reap(c, pid, ST_EXIT(0), "child");
		gate_close(&g);
	}
	return true;
}

int t_smptlb(struct ctx *c)
{
	if (ncpus_online() < 2)
		return skip(c, "needs two CPUs (--cpus 2)");
	struct shared *s = new_shared(c, 1);
	if (!s)
		return CASE_FAIL;
	if (!spawn_pinned(c, reader, s))
		return case_result(c);
	cow_rounds(c, s, false);
	stop_helper(c, s);
	if (s->bad_round)
		fail(c, "round %d: the other thread read 0x%02x, not 0x%02x, after the COW break: a stale TLB entry "
		     "(no shootdown on its CPU?)", s->bad_round, s->bad_byte, s->want_byte);
	return case_result(c);
}

/* ---- 26. Flush before put --------------------------------------------------- */

/* Thread B as above, and the child's byte 0xcc must never show in the
 * parent: it can only get there through a stale TLB entry that still maps
 * the old frame after the parent let go of it. */
static void reader_no_cc(void *arg)
{
	struct shared *s = arg;
	pin_helper(s);
	while (!s->stop) {
		uint8_t v = peek(s->page);
		if (v == 0xcc && !s->bad_round) {
			s->bad_round = s->round + 1;
			s->bad_byte = v;
		}
		if (s->round != s->seen)
			s->seen = s->round;
		s->iters++;
	}
	s->done = 1;
}

int t_smpflush(struct ctx *c)
{
	if (ncpus_online() < 2)
		return skip(c, "needs two CPUs (--cpus 2)");
	struct shared *s = new_shared(c, 1);
	if (!s)
		return CASE_FAIL;
	if (!spawn_pinned(c, reader_no_cc, s))
		return case_result(c);
	cow_rounds(c, s, true);
	stop_helper(c, s);
	if (s->bad_round)
		fail(c, "round %d: a thread of the parent read the child's byte 0xcc: the old frame was given up "
		     "before the TLB shootdown (flush before put)", s->bad_round);
	return case_result(c);
}

/* ---- 27. Two writers, one COW page ------------------------------------------ */

#define W2_ROUNDS 60

static void writer2(void *arg)
{
	struct shared *s = arg;
	pin_helper(s);
	int r = 0;
	while (!s->stop) {
		if (s->go == r + 1) {
			r++;
			poke(s->page + 1, round_byte(r)); /* byte 1: B's */
			s->seen = r;
		}
		s->iters++;
	}
	s->done = 1;
}

int t_smpwrite2(struct ctx *c)
{
	if (ncpus_online() < 2)
		return skip(c, "needs two CPUs (--cpus 2)");
	struct shared *s = new_shared(c, 1);
	if (!s)
		return CASE_FAIL;
	memset(s->page, 0x11, 2);
	warm_stack();
	struct cow_meminfo m0 = info();
	/* A (and its children) on CPU 0, B on CPU 1: their faults overlap when
	 * both CPUs run, and under vmm --explore the vCPU chosen is the thread
	 * that runs (unpinned, both threads ended up on whichever CPU ran). */
	if (!spawn_pinned(c, writer2, s))
		return case_result(c);
	int bad = 0;
	for (int r = 1; r <= W2_ROUNDS && !bad; r++) {
		struct gate g;
		if (!gate_open(c, &g))
			return CASE_FAIL;
		uint8_t old0 = peek(s->page), old1 = peek(s->page + 1);
		uint64_t old_frame = frame_of(s->page);
		int pid = xfork(c);
		if (pid < 0)
			return CASE_FAIL;
		if (pid == 0) {
			c->who = "child";
			gate_wait(&g);
			/* The parent's two writes never reach the child's frame, and
			 * the parent left exactly one reference on it: ours. */
			expect_eq(c, peek(s->page), old0, "child's byte 0 after the parent's writes");
			expect_eq(c, peek(s->page + 1), old1, "child's byte 1 after the parent's writes");
			expect_eq(c, frame_of(s->page), old_frame, "child's frame");
			expect_eq(c, ref_of(s->page), 1, "refcount of the child's frame after the parent's COW break");
			child_exit(c);
		}
		s->go = r;                         /* B writes byte 1 ... */
		poke(s->page, round_byte(r));      /* ... as A writes byte 0 */
		if (!wait_ge(&s->seen, r))
			return fail(c, "round %d: the writer thread never wrote", r);
		bad |= !expect_eq(c, peek(s->page), round_byte(r), "byte 0 (the main thread's write)");
		bad |= !expect_eq(c, peek(s->page + 1), round_byte(r), "byte 1 (the other thread's write)");
		bad |= !expect_eq(c, ref_of(s->page), 1, "refcount of the parent's new frame");
		bad |= !expect_true(c, frame_of(s->page) != old_frame, "round %d: the parent has a new frame", r);
		gate_post(&g, 0);
		bad |= !reap(c, pid, ST_EXIT(0), "child");
		gate_close(&g);
	}
	stop_helper(c, s);
	struct cow_meminfo m1 = info();
	diag(c, "%lu COW copies, %lu races backed out, %lu shootdowns in %d rounds",
	     (unsigned long)(m1.cow_copies - m0.cow_copies), (unsigned long)(m1.cow_races - m0.cow_races),
	     (unsigned long)(m1.tlb_shootdowns - m0.tlb_shootdowns), W2_ROUNDS);
	return case_result(c);
}

/* ---- 28. Fork of a multithreaded parent while a sibling thread writes ------- */

#define FW_PAGES 4
/* A (and so each child) runs on CPU 0 only, the writer on CPU 1 only, as in
 * cow_rounds: alone on its CPU, the writer keeps its writable TLB entries
 * until a shootdown empties them, so on the forknoflush kernel its writes
 * after fork land in the child's frame, in the first round when the vCPUs
 * have host CPUs of their own (unpinned, the writer's CPU happened to switch
 * and flush in most rounds: one in about 30 showed the bug). */
#define FW_ROUNDS 30

static void counter_writer(void *arg)
{
	struct shared *s = arg;
	pin_helper(s);
	uint64_t n = 0;
	while (!s->stop) {
		n++;
		for (int i = 0; i < s->npages; i++)
			*(volatile uint64_t *)(s->page + (uint64_t)i * PAGE) = n;
		s->counter = n;
		s->iters++;
	}
	s->done = 1;
}

int t_smpforkwr(struct ctx *c)
{
	if (ncpus_online() < 2)
		return skip(c, "needs two CPUs (--cpus 2)");
	struct shared *s = new_shared(c, FW_PAGES);
	if (!s)
		return CASE_FAIL;
	if (!spawn_pinned(c, counter_writer, s))
		return case_result(c);
	if (!wait_iters(s, 100))
		return fail(c, "the writer thread does not run");
	for (int r = 1; r <= FW_ROUNDS; r++) {
		struct gate g;
		if (!gate_open(c, &g))
			return CASE_FAIL;
		int pid = xfork(c);
		if (pid < 0)
			return CASE_FAIL;
		if (pid == 0) {
			/* The snapshot: fork returned, so it must never change. */
			c->who = "child";
			uint64_t snap0[FW_PAGES];
			for (int i = 0; i < FW_PAGES; i++)
				snap0[i] = *(volatile uint64_t *)(s->page + (uint64_t)i * PAGE);
			/* The parent's thread wrote many times meanwhile; the parent
			 * sends the writer's count as it read it right after fork. */
			uint64_t c1 = 0;
			if (read(g.r, &c1, sizeof c1) != (long)sizeof c1)
				fail(c, "no count from the parent");
			for (int i = 0; i < FW_PAGES; i++) {
				uint64_t now = *(volatile uint64_t *)(s->page + (uint64_t)i * PAGE);
				if (now != snap0[i])
					fail(c, "page %d changed in the child after fork: %lu then %lu (the parent's "
					     "thread wrote through a writable TLB entry fork did not flush)", i,
					     (unsigned long)snap0[i], (unsigned long)now);
				/* +1: the writer may have stamped the pages but not yet
				 * its count when fork write-protected them */
				if (snap0[i] > c1 + 1)
					fail(c, "page %d holds %lu in the child, but the writer had only reached %lu "
					     "when fork returned: its later writes landed in the child's frame (fork's "
					     "write-protect not flushed on the writer's CPU)", i,
					     (unsigned long)snap0[i], (unsigned long)c1);
			}
			child_exit(c);
		}
		uint64_t c1 = s->counter;
		wait_iters(s, 2000);
		write(g.w, &c1, sizeof c1);
		reap(c, pid, ST_EXIT(0), "child");
		gate_close(&g);
	}
	stop_helper(c, s);
	for (int i = 0; i < FW_PAGES; i++)
		expect_eq(c, *(volatile uint64_t *)(s->page + (uint64_t)i * PAGE), s->counter,
			  "the writer's last value in the parent's page");
	return case_result(c);
}

/* ---- 29. Preemption ----------------------------------------------------------- */

#define PR_WORKERS 4
#define PR_CYCLES 250

int t_preempt(struct ctx *c)
{
	/* More spinners than CPUs: without a timer the first one never gives
	 * its CPU back, and with one CPU this process would not run again. */
	int n = ncpus_online() + 1, pids[17];
	for (int i = 0; i < n; i++) {
		pids[i] = xfork(c);
		if (pids[i] == 0)
			for (volatile uint64_t k = 0;; k++)
				;
	}
	for (int i = 0; i < 3; i++)
		yield(); /* the spinners run; without preemption we would not be back */
	for (int i = 0; i < n; i++) {
		expect_eq(c, (uint64_t)kill(pids[i], SIGKILL), 0, "kill of a spinning process");
		reap(c, pids[i], ST_SIG(SIGKILL), "spinning process, killed");
	}

	/* PR_WORKERS x PR_CYCLES fork/exit/wait cycles, the workers on all
	 * CPUs at once: the frames all come back. */
	warm_stack();
	struct cow_meminfo m0 = info();
	int w[PR_WORKERS];
	for (int i = 0; i < PR_WORKERS; i++) {
		w[i] = xfork(c);
		if (w[i] == 0) {
			int bad = 0;
			for (int k = 0; k < PR_CYCLES; k++) {
				int pid = fork();
				if (pid == 0)
					exit(k & 0x3f);
				int st = 0;
				if (pid < 0 || waitpid(pid, &st, 0) != pid || st != ST_EXIT(k & 0x3f))
					bad++;
			}
			exit(bad ? 1 : 0);
		}
	}
	for (int i = 0; i < PR_WORKERS; i++)
		reap(c, w[i], ST_EXIT(0), "worker of 250 fork/exit/wait cycles");
	struct cow_meminfo m1 = info();
	expect_eq(c, m1.free_frames, m0.free_frames, "free frames after 1,000 fork/exit/wait cycles");
	expect_true(c, m1.forks - m0.forks >= PR_WORKERS * (PR_CYCLES + 1), "forks counted (%lu)",
		    (unsigned long)(m1.forks - m0.forks));
	diag(c, "%lu timer ticks, %lu preemptions on %lu CPU(s)", (unsigned long)m1.timer_ticks,
	     (unsigned long)m1.preemptions, (unsigned long)m1.ncpus);
	return case_result(c);
}
