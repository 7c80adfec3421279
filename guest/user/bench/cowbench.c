/* guest/user/bench/cowbench.c — times COW, reuse and zero-fill faults and fork against mapped size, for the VMM's --bench. */
/*
 * Every sample is a serialized-rdtsc delta kept in guest memory; the VMM
 * gets them all in one HC_BENCH phase 2 at the very end (BENCH_OP_FLUSH), so
 * no sample costs a VM exit.  Each timed loop is bracketed by BENCH_OP_BEGIN
 * / BENCH_OP_END (HC_BENCH phase 0 / 1): the VMM counts VM exits and reads
 * the kernel's counters in between.  Fault-handler times (entry -> exit) come
 * from the kernel while BENCH_OP_ARM is on, in a round of their own: the
 * user-visible writes are timed in another round, with the kernel's hook off.
 *
 * With several CPUs (SYS_meminfo's ncpus), then the same work beside T other
 * threads of the process, each spinning in user mode on a CPU of its own
 * (T = 1, and 3 with 4 CPUs or more), so the address space is loaded on T
 * other CPUs and every downgrade is a TLB shootdown there: COW_WRITE_MT (a
 * COW write, every one a copy, as cow_write) and FORK_MT (fork of a parent of
 * 256 mapped pages, as fork n=256).  The VMM counts the IPIs per event.  On
 * one CPU these loops are skipped (said so on the console).
 *
 * Usage: cowbench [quick|check]
 *   (none)  the full run for `make bench`: COW/reuse at 256, 1024, 4096 pages,
 *           fork against 1 .. 65536 mapped pages (256 MiB: run with -m 1G),
 *           COW_WRITE_MT at 256 pages
 *   quick   a short run (COW at 64 pages, fork up to 256 pages, COW_WRITE_MT
 *           at 64 pages)
 *   check   quick, and exit 1 unless the reuse loops copied nothing (and the
 *           multi-threaded COW loop copied every page)
 *   mt      only the multi-threaded loops, full size (make bench's --cpus 4 run)
 */
#include "bench.h"
#include "ulib.h"

#define PAGE 4096u
#define MAX_SAMPLES 32768u

struct plan {
	const uint32_t *cow_n;   /* COW + reuse loop sizes */
	int ncow;
	const uint32_t *fork_n;  /* fork latency sizes (pages mapped by the region) */
	int nfork;
	int fork_reps, rt_reps;
	uint32_t zero_n, plain_n, copy_n;
	uint32_t mt_cow_n;       /* COW_WRITE_MT pages (one of cow_n: compare with cow_write) */
};

/* FORK_MT's parent maps this many pages: one of fork_n in both plans, so the
 * single-threaded fork of the same size is in the same report. */
#define MT_FORK_PAGES 256u

static const uint32_t full_cow[] = { 256, 1024, 4096 };
static const uint32_t full_fork[] = { 1, 16, 256, 1024, 4096, 16384, 65536 };
static const uint32_t quick_cow[] = { 64 };
static const uint32_t quick_fork[] = { 1, 16, 256 };

static const struct plan full = { full_cow, 3, full_fork, 7, 8, 4, 1024, 1024, 256, 256 };
static const struct plan quick = { quick_cow, 1, quick_fork, 3, 4, 2, 64, 64, 64, 64 };

/* All mutable state in one place, so it can be re-dirtied after each fork
 * (see settle()). */
static struct {
	struct cowvmm_sample *s;
	uint64_t n, dropped;
	int failures;
} g;

static void rec(uint32_t ev, uint32_t arg, uint64_t ticks)
{
	if (g.n < MAX_SAMPLES)
		g.s[g.n++] = (struct cowvmm_sample){ .event = ev, .arg = arg, .ticks = ticks };
	else
		g.dropped++;
}

static void begin(uint32_t ev, uint32_t arg) { bench(BENCH_OP_BEGIN, ev, arg); }
static void end(uint32_t ev, uint32_t arg) { bench(BENCH_OP_END, ev, arg); }
static void arm(int on, uint32_t arg) { bench(BENCH_OP_ARM, (uint64_t)on, arg); }

static void *map(uint64_t pages)
{
	void *p = mmap_anon(pages * PAGE, PROT_READ | PROT_WRITE);
	if (IS_ERR(p)) {
		printf("cowbench: mmap of %lu pages failed (%ld): give the guest more memory (-m)\n",
		       (unsigned long)pages, (long)p);
		exit(2);
	}
	return p;
}

static void touch(volatile char *p, uint64_t pages, char v)
{
	for (uint64_t i = 0; i < pages; i++)
		p[i * PAGE] = v;
}

/* Write each page without changing it (it may hold samples already). */
static void redirty(volatile char *p, uint64_t pages)
{
	for (uint64_t i = 0; i < pages; i++)
		p[i * PAGE] = p[i * PAGE];
}

/* After a fork, this process's writable pages are COW-shared: write once to
 * the stack, the globals and the sample buffer so that no fault of ours lands
 * in an armed window (it would add kernel samples that are not the loop's). */
static void __attribute__((noinline)) settle(void)
{
	volatile char stack[8 * PAGE];
	for (unsigned i = 0; i < sizeof stack; i += PAGE / 2)
		stack[i] = 0;
	volatile uint64_t *gp = &g.n;
	*gp = *gp;
	redirty((volatile char *)g.s, MAX_SAMPLES * sizeof *g.s / PAGE);
}

static void reap(int pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("cowbench: child %d failed (status %#x)\n", pid, st);
		exit(1);
	}
}

/* Write one byte to each page, timing each write. */
static void timed_writes(volatile char *p, uint32_t pages, char v, uint32_t ev, uint32_t arg,
			 struct cowvmm_sample *out)
{
	for (uint32_t i = 0; i < pages; i++) {
		uint64_t t0 = rdtsc_serialized();
		p[(uint64_t)i * PAGE] = v;
		uint64_t t1 = rdtsc_serialized();
		if (out)
			out[i] = (struct cowvmm_sample){ .event = ev, .arg = arg, .ticks = t1 - t0 };
		else
			rec(ev, arg, t1 - t0);
	}
}

/* The floor under a COW copy: 4 KiB rep movsq between pages already mapped,
 * a fresh pair of pages each time (as a COW copy reads a page it has not
 * touched lately). */
static void copy_floor(uint32_t pages)
{
	char *src = map(pages), *dst = map(pages);
	touch(src, pages, 1);
	touch(dst, pages, 1);
	begin(COWVMM_EV_COPY_PAGE, 0);
	for (uint32_t i = 0; i < pages; i++) {
		void *d = dst + (uint64_t)i * PAGE;
		const void *s = src + (uint64_t)i * PAGE;
		uint64_t n = PAGE / 8;
		uint64_t t0 = rdtsc_serialized();
		__asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
		uint64_t t1 = rdtsc_serialized();
		rec(COWVMM_EV_COPY_PAGE, 0, t1 - t0);
	}
	end(COWVMM_EV_COPY_PAGE, 0);
	munmap(src, pages * PAGE);
	munmap(dst, pages * PAGE);
}

static void plain_writes(uint32_t pages)
{
	volatile char *p = map(pages);
	touch(p, pages, 1);
	begin(COWVMM_EV_PLAIN_WRITE, 0);
	timed_writes(p, pages, 2, COWVMM_EV_PLAIN_WRITE, 0, NULL);
	end(COWVMM_EV_PLAIN_WRITE, 0);
	munmap((void *)p, pages * PAGE);
}

/* Read each fresh page (maps the shared zero frame), then write it: the
 * kernel times each zero-fill fault. */
static void zero_faults(uint32_t pages)
{
	volatile char *p = map(pages);
	char sum = 0;
	for (uint32_t i = 0; i < pages; i++)
		sum += p[(uint64_t)i * PAGE];
	arm(1, pages);
	begin(COWVMM_EV_ZERO_FAULT, pages);
	touch(p, pages, (char)(sum + 1));
	end(COWVMM_EV_ZERO_FAULT, pages);
	arm(0, 0);
	munmap((void *)p, pages * PAGE);
}

/* One round of COW in a child (every write copies), then reuse in the parent
 * once the child is gone (refcount 1: no copy), as Linux's peer does.
 * handler = 1: the kernel times its fault handler (COW_FAULT, REUSE_FAULT)
 * and the user side is not timed.  handler = 0: nothing in the kernel is
 * timed and the user-visible writes are (COW_WRITE, REUSE_WRITE), so these
 * carry no cost of the kernel's instrumentation. */
static void cow_round(volatile char *p, uint32_t pages, int handler, int check)
{
	uint32_t cev = handler ? COWVMM_EV_COW_FAULT : COWVMM_EV_COW_WRITE;
	uint32_t rev = handler ? COWVMM_EV_REUSE_FAULT : COWVMM_EV_REUSE_WRITE;
	int pid = fork();
	if (pid < 0) {
		printf("cowbench: fork failed (%d)\n", pid);
		exit(1);
	}
	if (pid == 0) {
		uint64_t cpages = (pages * sizeof(struct cowvmm_sample) + PAGE - 1) / PAGE;
		struct cowvmm_sample *cs = handler ? NULL : map(cpages);
		if (cs)
			touch((volatile char *)cs, cpages, 0);
		settle();
		arm(handler, pages);
		begin(cev, pages);
		if (handler)
			touch(p, pages, 2);
		else
			timed_writes(p, pages, 2, cev, pages, cs);
		end(cev, pages);
		arm(0, 0);
		long r = cs ? bench(BENCH_OP_PUSH, (uint64_t)cs, pages) : (long)pages;
		if (r != (long)pages) {
			printf("cowbench: pushing %u samples failed (%ld)\n", pages, r);
			exit(1);
		}
		exit(0);
	}
	reap(pid);
	settle();
	struct cow_meminfo m0, m1;
	meminfo(&m0);
	arm(handler, pages);
	begin(rev, pages);
	if (handler)
		touch(p, pages, 3);
	else
		timed_writes(p, pages, 3, rev, pages, NULL);
	end(rev, pages);
	arm(0, 0);
	meminfo(&m1);
	uint64_t copies = m1.cow_copies - m0.cow_copies, reuses = m1.cow_reuses - m0.cow_reuses;
	printf("cowbench: reuse loop (%s), %u pages: copies +%lu, reuses +%lu\n",
	       handler ? "handler timed" : "writes timed", pages, (unsigned long)copies,
	       (unsigned long)reuses);
	if (check && (copies != 0 || reuses != pages)) {
		printf("cowbench: FAIL: the reuse path must copy nothing and reuse every page\n");
		g.failures++;
	}
}

static void cow_and_reuse(uint32_t pages, int check)
{
	volatile char *p = map(pages);
	touch(p, pages, 1);
	cow_round(p, pages, 1, check);
	cow_round(p, pages, 0, check);
	munmap((void *)p, pages * PAGE);
}

/* Fork latency (parent view) and fork + exit + wait, against the pages a
 * region maps; the region grows between sizes. */
static void fork_sizes(const struct plan *pl)
{
	uint32_t maxn = pl->fork_n[pl->nfork - 1], done = 0;
	volatile char *p = map(maxn);
	for (int k = 0; k < pl->nfork; k++) {
		uint32_t n = pl->fork_n[k];
		for (; done < n; done++)
			p[(uint64_t)done * PAGE] = 1;
		begin(COWVMM_EV_FORK, n);
		for (int r = 0; r < pl->fork_reps; r++) {
			uint64_t t0 = rdtsc_serialized();
			int pid = fork();
			uint64_t t1 = rdtsc_serialized();
			if (pid == 0)
				exit(0);
			if (pid < 0) {
				printf("cowbench: fork with %u pages mapped failed (%d)\n", n, pid);
				exit(1);
			}
			rec(COWVMM_EV_FORK, n, t1 - t0);
			reap(pid);
		}
		end(COWVMM_EV_FORK, n);
		begin(COWVMM_EV_FORK_ROUNDTRIP, n);
		for (int r = 0; r < pl->rt_reps; r++) {
			uint64_t t0 = rdtsc_serialized();
			int pid = fork();
			if (pid == 0)
				exit(0);
			if (pid < 0)
				exit(1);
			reap(pid);
			rec(COWVMM_EV_FORK_ROUNDTRIP, n, rdtsc_serialized() - t0);
		}
		end(COWVMM_EV_FORK_ROUNDTRIP, n);
	}
	munmap((void *)p, (uint64_t)maxn * PAGE);
}

/* ---- several CPUs: the same work beside T spinning threads ------------------ */

#define MT_MAX 3          /* most threads beside the timed one */
#define MT_STACK_PAGES 2
#define MT_WAIT 200000000ul /* spins before giving up on a thread that never runs */

/* What the spinners and the timed thread share: a page of its own, mapped
 * after the fork, so writing it breaks no COW. */
struct spinners {
	volatile int stop;     /* set by the timed thread: spinners return */
	volatile int running;  /* spinners that have started */
	volatile int done;     /* spinners that have returned */
	volatile int cpu[MT_MAX];
};

/* A spinner: once it has said where it runs, in user mode until told to
 * stop -- no system call, no fault, no `pause` (a hypervisor may exit on
 * it) -- so its CPU keeps the address space loaded. */
static void spinner(void *arg)
{
	struct spinners *sp = arg;
	int me = __atomic_fetch_add(&sp->running, 1, __ATOMIC_SEQ_CST);
	if (me < MT_MAX)
		sp->cpu[me] = cpu_now();
	while (!sp->stop)
		;
	__atomic_fetch_add(&sp->done, 1, __ATOMIC_SEQ_CST);
}

/* Start t spinners and wait until each runs.  Where each runs during the
 * loop is not checked here: a thread may start on a CPU another one then
 * leaves at a tick.  The loop's IPIs per COW break (the VMM's report: t when
 * every spinner had a CPU of its own) say where they were. */
static struct spinners *spin_up(int t)
{
	struct spinners *sp = map(1);
	touch((volatile char *)sp, 1, 0);
	for (int i = 0; i < t; i++) {
		char *stack = map(MT_STACK_PAGES);
		touch(stack, MT_STACK_PAGES, 0);
		int tid = thread_create(spinner, sp, stack, MT_STACK_PAGES * PAGE);
		if (tid <= 0) {
			printf("cowbench: thread_create failed (%d)\n", tid);
			exit(1);
		}
	}
	for (uint64_t i = 0; sp->running < t; i++)
		if (i > MT_WAIT) {
			printf("cowbench: %d of %d spinning threads ever ran\n", sp->running, t);
			exit(1);
		}
	return sp;
}

static void spin_down(struct spinners *sp, int t)
{
	sp->stop = 1;
	for (uint64_t i = 0; sp->done < t; i++)
		if (i > MT_WAIT) {
			printf("cowbench: %d of %d spinning threads stopped\n", sp->done, t);
			exit(1);
		}
}

/* COW_WRITE_MT: in a child (every page COW-shared with us, so every write
 * copies), T spinners, then the timed writes; the child's samples go to the
 * kernel's ring before it exits.  The guest's own count of the shootdowns
 * is printed beside the VMM's. */
static void cow_mt(uint32_t pages, int t, int check)
{
	volatile char *p = map(pages);
	touch(p, pages, 1);
	int pid = fork();
	if (pid < 0) {
		printf("cowbench: fork failed (%d)\n", pid);
		exit(1);
	}
	if (pid == 0) {
		uint64_t cpages = (pages * sizeof(struct cowvmm_sample) + PAGE - 1) / PAGE;
		struct cowvmm_sample *cs = map(cpages);
		touch((volatile char *)cs, cpages, 0);
		settle(); /* our COW breaks of stack and globals, before any thread exists */
		struct spinners *sp = spin_up(t);
		struct cow_meminfo m0, m1;
		meminfo(&m0);
		begin(COWVMM_EV_COW_WRITE_MT, (uint32_t)t);
		timed_writes(p, pages, 2, COWVMM_EV_COW_WRITE_MT, (uint32_t)t, cs);
		end(COWVMM_EV_COW_WRITE_MT, (uint32_t)t);
		meminfo(&m1);
		spin_down(sp, t);
		uint64_t copies = m1.cow_copies - m0.cow_copies;
		printf("cowbench: COW loop on CPU %d beside %d spinning thread(s) (started on CPUs", cpu_now(), t);
		for (int i = 0; i < t; i++)
			printf(" %d", sp->cpu[i]);
		printf("), %u pages: copies +%lu, IPIs +%lu, shootdowns +%lu, races +%lu\n", pages,
		       (unsigned long)copies, (unsigned long)(m1.ipis_sent - m0.ipis_sent),
		       (unsigned long)(m1.tlb_shootdowns - m0.tlb_shootdowns),
		       (unsigned long)(m1.cow_races - m0.cow_races));
		int bad = check && copies != pages;
		if (bad)
			printf("cowbench: FAIL: every write of the multi-threaded COW loop must copy\n");
		long r = bench(BENCH_OP_PUSH, (uint64_t)cs, pages);
		if (r != (long)pages) {
			printf("cowbench: pushing %u samples failed (%ld)\n", pages, r);
			exit(1);
		}
		exit(bad);
	}
	reap(pid);
	munmap((void *)p, pages * PAGE);
}

/* FORK_MT: a child maps MT_FORK_PAGES pages, starts T spinners and times its
 * own forks (grandchildren exit at once), as fork_sizes() does at that size. */
static void fork_mt(const struct plan *pl, int t)
{
	int pid = fork();
	if (pid < 0) {
		printf("cowbench: fork failed (%d)\n", pid);
		exit(1);
	}
	if (pid == 0) {
		struct cowvmm_sample fs[16];
		int reps = pl->fork_reps < 16 ? pl->fork_reps : 16;
		volatile char *p = map(MT_FORK_PAGES);
		touch(p, MT_FORK_PAGES, 1);
		settle();
		memset(fs, 0, sizeof fs); /* written in the loop: no COW break of it there */
		struct spinners *sp = spin_up(t);
		begin(COWVMM_EV_FORK_MT, (uint32_t)t);
		for (int r = 0; r < reps; r++) {
			uint64_t t0 = rdtsc_serialized();
			int c = fork();
			uint64_t t1 = rdtsc_serialized();
			if (c == 0)
				exit(0);
			if (c < 0) {
				printf("cowbench: fork beside %d threads failed (%d)\n", t, c);
				exit(1);
			}
			fs[r] = (struct cowvmm_sample){ .event = COWVMM_EV_FORK_MT, .arg = (uint32_t)t,
							.ticks = t1 - t0 };
			reap(c);
		}
		end(COWVMM_EV_FORK_MT, (uint32_t)t);
		spin_down(sp, t);
		long r = bench(BENCH_OP_PUSH, (uint64_t)fs, (uint64_t)reps);
		if (r != reps) {
			printf("cowbench: pushing %d samples failed (%ld)\n", reps, r);
			exit(1);
		}
		exit(0);
	}
	reap(pid);
}

static void mt_loops(const struct plan *pl, int check)
{
	struct cow_meminfo mi;
	memset(&mi, 0, sizeof mi);
	meminfo(&mi);
	if (mi.ncpus < 2) {
		printf("cowbench: %lu CPU: multi-threaded loops (cow_write_mt, fork_mt) need 2 or more, "
		       "skipped\n", (unsigned long)mi.ncpus);
		return;
	}
	for (int t = 1; t <= MT_MAX; t += 2) {
		if ((uint64_t)t + 1 > mi.ncpus)
			break;
		cow_mt(pl->mt_cow_n, t, check);
		fork_mt(pl, t);
	}
}

int main(int argc, char **argv)
{
	int check = argc > 1 && !strcmp(argv[1], "check");
	int mt_only = argc > 1 && !strcmp(argv[1], "mt");
	const struct plan *pl = argc > 1 && (check || !strcmp(argv[1], "quick")) ? &quick : &full;
	if (argc > 1 && pl == &full && !mt_only) {
		printf("usage: cowbench [quick|check|mt]\n");
		return 2;
	}
	long info = bench(BENCH_OP_INFO, 0, 0);
	if (info < 0) {
		printf("cowbench: this kernel has no SYS_bench (%ld)\n", info);
		return 1;
	}
	g.s = map(MAX_SAMPLES * sizeof *g.s / PAGE);
	touch((volatile char *)g.s, MAX_SAMPLES * sizeof *g.s / PAGE, 0);

	if (!mt_only) {
		plain_writes(pl->plain_n);
		copy_floor(pl->copy_n);
		zero_faults(pl->zero_n);
		for (int i = 0; i < pl->ncow; i++)
			cow_and_reuse(pl->cow_n[i], check);
		fork_sizes(pl);
	}
	mt_loops(pl, check);

	long r = bench(BENCH_OP_PUSH, (uint64_t)g.s, g.n);
	if (r != (long)g.n) {
		printf("cowbench: pushing %lu samples failed (%ld)\n", (unsigned long)g.n, r);
		return 1;
	}
	long dropped = bench(BENCH_OP_INFO, 0, 0) >> 32;
	long sent = bench(BENCH_OP_FLUSH, 0, 0);
	printf("cowbench: %ld samples handed to the VMM (%lu + %ld dropped: buffers full)\n", sent,
	       (unsigned long)g.dropped, dropped);
	return g.failures || g.dropped || dropped ? 1 : 0;
}
