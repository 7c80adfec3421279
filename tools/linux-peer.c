/* tools/linux-peer.c — the same fork/COW work as the guest's cowbench, done by Linux, timed with rdtsc. */
/*
 * Method (for each n): mmap n anonymous pages, madvise(MADV_NOHUGEPAGE) so
 * every page is a 4 KiB page as in cowvmm, write one byte to each; then
 *   fork        rdtsc around fork() in the parent (REPS forks, children exit at once)
 *   roundtrip   rdtsc around fork + child _exit + waitpid
 *   cow_write   in one child: rdtsc around a one-byte write to each page (each a COW fault)
 *   reuse_write after that child is reaped: the parent writes each page again
 *               (refcount 1: Linux reuses the frame, no copy)
 *   plain_write the parent writes each page a third time (no fault: the baseline)
 * Then, as cowbench does with several CPUs, the same work beside T other
 * threads (T = 1 and 3) spinning in user mode, started with a raw clone()
 * (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
 * CLONE_SYSVSEM, no pthread), MT_PAGES pages:
 *   cow_write_mt n=T  a child's one-byte write to each page (each a COW copy)
 *   fork_mt n=T       rdtsc around fork() of a parent with T spinning threads
 * With as many CPUs as threads the spinners sit on other CPUs, the mm is
 * live there and each COW break or fork is a TLB shootdown to them; with
 * fewer CPUs (QEMU -icount: one) they are time-sliced with the timed thread
 * and no IPI is needed: the line "peer cpus=N" says which it was.
 * Each line of output is "peer event=E n=N count=C min=.. p50=.. p90=.. p99=.. max=.. mean=..",
 * with the same nearest-rank percentiles as the VMM's bench report, so
 * tools/bench.sh can put both side by side.  Under QEMU -icount shift=0 a tick
 * is one guest instruction and the figures repeat exactly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096u
#define REPS 8 /* forks timed per size (fork, roundtrip) */
#define MT_PAGES 256u /* pages of the multi-threaded loops (cowbench's full run: the same) */
#define MT_MAX 3
#define MT_STACK (64u * 1024u)

/* Same as the guest's rdtsc_serialized(): nothing moves across the read. */
static inline uint64_t rdtsc_serialized(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p% of samples <= it. */
static uint64_t pct(const uint64_t *s, size_t n, unsigned p)
{
	size_t rank = ((size_t)p * n + 99) / 100;
	return s[rank ? rank - 1 : 0];
}

/* Sort and print one line of statistics. */
static void report(const char *event, size_t pages, uint64_t *s, size_t n)
{
	if (n == 0)
		return;
	qsort(s, n, sizeof *s, cmp_u64);
	long double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	printf("peer event=%s n=%zu count=%zu min=%" PRIu64 " p50=%" PRIu64 " p90=%" PRIu64
	       " p99=%" PRIu64 " max=%" PRIu64 " mean=%.0Lf\n",
	       event, pages, n, s[0], pct(s, n, 50), pct(s, n, 90), pct(s, n, 99), s[n - 1], sum / n);
	fflush(stdout);
}

static void die(const char *what)
{
	fprintf(stderr, "linux-peer: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Wait for one child; anything but a clean exit 0 is fatal. */
static void reap(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "linux-peer: child failed (status %#x)\n", st);
		exit(1);
	}
}

/* REPS forks, each timed in the parent (the child exits at once, reaped
 * before the next one): fork_1 and fork_mt alike. */
static void time_forks(uint64_t *fk)
{
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = rdtsc_serialized();
		pid_t pid = fork();
		uint64_t t1 = rdtsc_serialized();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			_exit(0);
		fk[r] = t1 - t0;
		reap(pid);
	}
}

/* Time a one-byte write to each page into s[]. */
static void time_writes(volatile char *mem, size_t pages, uint64_t *s, char val)
{
	for (size_t i = 0; i < pages; i++) {
		uint64_t t0 = rdtsc_serialized();
		mem[i * PAGE] = val;
		uint64_t t1 = rdtsc_serialized();
		s[i] = t1 - t0;
	}
}

/* Fresh, touched sample buffer: its own faults happen before any timing. */
static uint64_t *samples(size_t n)
{
	uint64_t *s = mmap(NULL, n * sizeof *s, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (s == MAP_FAILED)
		die("mmap samples");
	memset(s, 0, n * sizeof *s);
	return s;
}

static void run(size_t pages)
{
	size_t len = pages * PAGE;
	volatile char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	if (madvise((void *)mem, len, MADV_NOHUGEPAGE) != 0)
		die("madvise(MADV_NOHUGEPAGE)");
	for (size_t i = 0; i < pages; i++)
		mem[i * PAGE] = 1;

	uint64_t fk[REPS], rt[REPS];
	time_forks(fk);
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = rdtsc_serialized();
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0)
			_exit(0);
		reap(pid);
		rt[r] = rdtsc_serialized() - t0;
	}
	report("fork", pages, fk, REPS);
	report("fork_roundtrip", pages, rt, REPS);

	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		uint64_t *s = samples(pages);
		time_writes(mem, pages, s, 2);
		report("cow_write", pages, s, pages);
		_exit(0);
	}
	reap(pid);

	uint64_t *s = samples(pages);
	time_writes(mem, pages, s, 3);
	report("reuse_write", pages, s, pages);
	time_writes(mem, pages, s, 4);
	report("plain_write", pages, s, pages);
	munmap(s, pages * sizeof *s);
	munmap((void *)mem, len);
}

/* ---- beside T spinning threads ----------------------------------------------- */

/* Shared with the spinners.  They make no libc call: they share the timed
 * thread's TLS (no CLONE_SETTLS), so errno and the like are not theirs. */
struct spinners {
	volatile int stop, running;
	int tid[MT_MAX];          /* CLONE_CHILD_CLEARTID: 0 (and a futex wake) once a thread is gone */
	void *stack[MT_MAX];
};

static int spinner(void *arg)
{
	struct spinners *sp = arg;
	__atomic_fetch_add(&sp->running, 1, __ATOMIC_SEQ_CST);
	while (!sp->stop)
		;
	return 0; /* glibc's clone() then makes the exit system call: this thread only */
}

static struct spinners *spin_up(int t)
{
	struct spinners *sp = mmap(NULL, sizeof *sp, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (sp == MAP_FAILED)
		die("mmap");
	const int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			  CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
	for (int i = 0; i < t; i++) {
		sp->stack[i] = mmap(NULL, MT_STACK, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_STACK, -1, 0);
		if (sp->stack[i] == MAP_FAILED)
			die("mmap stack");
		if (clone(spinner, (char *)sp->stack[i] + MT_STACK, flags, sp, &sp->tid[i], NULL,
			  &sp->tid[i]) < 0)
			die("clone");
	}
	while (sp->running < t)
		sched_yield(); /* with one CPU they need ours */
	return sp;
}

static void spin_down(struct spinners *sp, int t)
{
	sp->stop = 1;
	for (int i = 0; i < t; i++) {
		int v;
		while ((v = __atomic_load_n(&sp->tid[i], __ATOMIC_ACQUIRE)) != 0)
			syscall(SYS_futex, &sp->tid[i], FUTEX_WAIT, v, NULL, NULL, 0);
		munmap(sp->stack[i], MT_STACK);
	}
	munmap(sp, sizeof *sp);
}

static void run_mt(int t)
{
	size_t len = (size_t)MT_PAGES * PAGE;
	volatile char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	if (madvise((void *)mem, len, MADV_NOHUGEPAGE) != 0)
		die("madvise(MADV_NOHUGEPAGE)");
	for (size_t i = 0; i < MT_PAGES; i++)
		mem[i * PAGE] = 1;

	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		uint64_t *s = samples(MT_PAGES);
		struct spinners *sp = spin_up(t);
		time_writes(mem, MT_PAGES, s, 2);
		spin_down(sp, t);
		report("cow_write_mt", (size_t)t, s, MT_PAGES);
		_exit(0);
	}
	reap(pid);

	uint64_t fk[REPS];
	struct spinners *sp = spin_up(t);
	time_forks(fk);
	spin_down(sp, t);
	report("fork_mt", (size_t)t, fk, REPS);
	munmap((void *)mem, len);
}

int main(int argc, char **argv)
{
	static const size_t dflt[] = {256, 1024, 4096, 16384};
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: linux-peer [PAGES...]   (default: 256 1024 4096 16384; then the\n"
		       "       multi-threaded loops at %u pages beside 1 and 3 spinning threads)\n", MT_PAGES);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("peer cpus=%ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			char *end;
			unsigned long n = strtoul(argv[i], &end, 10);
			if (*end || n == 0 || n > (1ul << 22)) {
				fprintf(stderr, "linux-peer: bad page count '%s'\n", argv[i]);
				return 2;
			}
			run(n);
		}
	} else {
		for (size_t i = 0; i < sizeof dflt / sizeof dflt[0]; i++)
			run(dflt[i]);
	}
	for (int t = 1; t <= MT_MAX; t += 2)
		run_mt(t);
	return 0;
}
