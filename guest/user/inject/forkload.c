/* forkload.c — fault-injection workload: fork/COW/pipe work that must survive any injected failure, then a leak check. */
#include "../ulib.h"

/*
 * Two layers, so that the check survives whatever the injection does:
 *
 *  - the top process measures free frames, forks one "runner" and waits for
 *    it (and any orphan) WITHOUT writing to its own memory in between (raw
 *    syscalls in one asm block), so no COW fault -- hence no injected
 *    allocation failure -- can kill it; once every other process is gone its
 *    pages have refcount 1 again and it compares free frames with the
 *    baseline: every frame taken during the run must be back.
 *  - the runner forks children and grandchildren that write, check and exit;
 *    any fork may fail with ENOMEM and any process may be killed for lack of
 *    memory: both are legal and counted, never treated as failures.  What is
 *    never legal is data that differs from what the process wrote.
 *
 * Lines the campaign reads (tools/campaign):
 *   forkload: DATA MISMATCH ...      silent corruption seen by a process
 *   forkload: leaked=N ...           frames not given back (N != 0 is a leak)
 *   forkload: UNEXPECTED ...         a result no failure mode explains
 * Exit status: 0 pass, 2 unexpected, 3 data mismatch, 4 leak.
 */

#define NPAGES 8
#define ROUNDS 3
#define PAGE 4096ul

static volatile uint64_t *buf;   /* NPAGES anonymous pages */
static uint64_t words[512];      /* a data-segment page written before fork */
static int pfd[2] = { -1, -1 };
static int mismatches, unexpected;

static uint64_t pattern(int page, int gen)
{
	return 0x5eed000000000000ull ^ ((uint64_t)gen << 32) ^ (uint64_t)page * 0x9e3779b9ull;
}

/* Fill page i with generation gen (first and last word, and one in the middle). */
static void fill(int i, int gen)
{
	volatile uint64_t *p = buf + i * (PAGE / 8);
	p[0] = p[255] = p[511] = pattern(i, gen);
}

static int check(const char *who, int i, int gen)
{
	volatile uint64_t *p = buf + i * (PAGE / 8);
	uint64_t want = pattern(i, gen);
	if (p[0] == want && p[255] == want && p[511] == want)
		return 0;
	printf("forkload: DATA MISMATCH %s pid %d page %d: 0x%lx 0x%lx 0x%lx, want 0x%lx\n", who,
	       getpid(), i, p[0], p[255], p[511], want);
	mismatches++;
	return 1;
}

/* gen[i]: the generation this process last wrote to page i. */
static int check_all(const char *who, const int *gen)
{
	int bad = 0;
	for (int i = 0; i < NPAGES; i++)
		bad |= check(who, i, gen[i]);
	for (int i = 0; i < 512; i++)
		if (words[i] != (uint64_t)i * 3) {
			printf("forkload: DATA MISMATCH %s pid %d data word %d\n", who, getpid(), i);
			mismatches++;
			return 1;
		}
	return bad;
}

/* A grandchild: write a few pages (COW faults of its own) and check. */
static _Noreturn void grandchild(int *gen, int r)
{
	for (int i = 0; i < NPAGES; i += 3) {
		fill(i, 100 + r);
		gen[i] = 100 + r;
	}
	exit(check_all("grandchild", gen) ? 3 : 0);
}

/* Account for one child's wait status. */
static void reap(const char *who, int pid)
{
	int st = 0;
	int w = waitpid(pid, &st, 0);
	if (w != pid) {
		printf("forkload: UNEXPECTED waitpid(%d) = %d in %s\n", pid, w, who);
		unexpected++;
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
		mismatches++; /* it printed the details */
	} else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
		printf("forkload: UNEXPECTED %s child %d exit %d\n", who, pid, WEXITSTATUS(st));
		unexpected++;
	} else if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL) {
		printf("forkload: UNEXPECTED %s child %d killed by signal %d\n", who, pid, WTERMSIG(st));
		unexpected++;
	}
}

static _Noreturn void child(int *gen, int r)
{
	check_all("child", gen);
	for (int i = r % 2; i < NPAGES; i += 2) {
		fill(i, 10 + r);
		gen[i] = 10 + r;
	}
	int g = fork();
	if (g == 0)
		grandchild(gen, r);
	if (g > 0)
		reap("child", g);
	else if (g != -ENOMEM && g != -EAGAIN) {
		printf("forkload: UNEXPECTED fork() = %d in child\n", g);
		unexpected++;
	}
	check_all("child", gen);
	/* Drained by the runner at the end (the pipe buffer may have failed to
	 * be allocated: only -ENOMEM is legal then). */
	long w = pfd[1] >= 0 ? write(pfd[1], "ok", 2) : 2;
	if (w != 2 && w != -ENOMEM) {
		printf("forkload: UNEXPECTED pipe write = %ld\n", w);
		unexpected++;
	}
	exit(mismatches ? 3 : unexpected ? 2 : 0);
}

static _Noreturn void runner(void)
{
	int gen[NPAGES];
	int forks = 0, enomem = 0;
	buf = mmap_anon(NPAGES * PAGE, PROT_READ | PROT_WRITE);
	if (IS_ERR(buf)) {
		printf("forkload: runner: mmap = %ld\n", (long)buf);
		exit(0); /* ENOMEM for the region itself: nothing to check */
	}
	for (int i = 0; i < NPAGES; i++) {
		fill(i, 1);
		gen[i] = 1;
	}
	int pr = pipe(pfd);
	if (pr < 0)
		pfd[0] = pfd[1] = -1;
	for (int r = 0; r < ROUNDS; r++) {
		struct cow_meminfo before;
		meminfo(&before);
		int pid = fork();
		if (pid == 0)
			child(gen, r);
		if (pid < 0) {
			if (pid != -ENOMEM && pid != -EAGAIN) {
				printf("forkload: UNEXPECTED fork() = %d\n", pid);
				unexpected++;
			}
			enomem++;
			struct cow_meminfo after;
			meminfo(&after);
			if (after.nprocs != before.nprocs || after.free_frames != before.free_frames) {
				printf("forkload: UNEXPECTED failed fork left nprocs %lu->%lu free %lu->%lu\n",
				       before.nprocs, after.nprocs, before.free_frames, after.free_frames);
				unexpected++;
			}
			check_all("runner", gen);
			continue;
		}
		forks++;
		/* The parent writes the other half while the child may still share it. */
		for (int i = (r + 1) % 2; i < NPAGES; i += 2) {
			fill(i, 20 + r);
			gen[i] = 20 + r;
		}
		reap("runner", pid);
		check_all("runner", gen);
	}
	if (pfd[0] >= 0) {
		close(pfd[1]);
		char tmp[64];
		while (read(pfd[0], tmp, sizeof tmp) > 0)
			;
		close(pfd[0]);
	}
	printf("forkload: runner forks=%d enomem=%d mismatches=%d unexpected=%d\n", forks, enomem,
	       mismatches, unexpected);
	exit(mismatches ? 3 : unexpected ? 2 : 0);
}

/* fork(); in the parent wait for the child, then for every other child until
 * ECHILD, all without touching user memory except *status (written by the
 * kernel only once the runner's address space is gone).  Returns the fork
 * result: < 0 error, 0 in the child, the child pid in the parent. */
static long fork_and_wait(int *status)
{
	long ret;
	__asm__ volatile(
		"mov %[nfork], %%eax\n\t"
		"syscall\n\t"
		"test %%rax, %%rax\n\t"
		"jle 3f\n\t"
		"mov %%rax, %%r12\n"
		"1:\n\t"
		"mov %%r12, %%rdi\n\t"
		"mov %[st], %%rsi\n\t"
		"xor %%edx, %%edx\n\t"
		"mov %[nwait], %%eax\n\t"
		"syscall\n\t"
		"cmp $-4, %%rax\n\t"          /* -EINTR: again */
		"je 1b\n"
		"2:\n\t"                         /* orphans re-parented to us */
		"mov $-1, %%rdi\n\t"
		"xor %%esi, %%esi\n\t"
		"xor %%edx, %%edx\n\t"
		"mov %[nwait], %%eax\n\t"
		"syscall\n\t"
		"test %%rax, %%rax\n\t"
		"jg 2b\n\t"
		"cmp $-4, %%rax\n\t"
		"je 2b\n\t"
		"mov %%r12, %%rax\n"
		"3:\n"
		: "=&a"(ret)
		: [nfork] "i"(SYS_fork), [nwait] "i"(SYS_waitpid), [st] "r"(status)
		: "rcx", "r11", "rdi", "rsi", "rdx", "r12", "memory");
	return ret;
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	static int status;
	struct cow_meminfo m0, m1;
	for (int i = 0; i < 512; i++)
		words[i] = (uint64_t)i * 3;
	/* Warm up every path the final report takes (stack pages, printf). */
	meminfo(&m0);
	printf("forkload: start free=%lu nprocs=%lu leaked=%ld\n", m0.free_frames, m0.nprocs, 0l);
	meminfo(&m0);
	long pid = fork_and_wait(&status);
	if (pid == 0)
		runner();
	meminfo(&m1);
	long leaked = (long)m0.free_frames - (long)m1.free_frames;
	if (pid < 0)
		printf("forkload: runner fork = %ld\n", pid);
	else if (WIFSIGNALED(status))
		printf("forkload: runner killed by signal %d\n", WTERMSIG(status));
	printf("forkload: free before=%lu after=%lu leaked=%ld nprocs=%lu\n", m0.free_frames,
	       m1.free_frames, leaked, m1.nprocs);
	if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status))
		return WEXITSTATUS(status);
	if (pid > 0 && WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		return 2;
	if (pid < 0 && pid != -ENOMEM && pid != -EAGAIN)
		return 2;
	return leaked ? 4 : 0;
}
