/* guest/user/cowsmoke.c — a quick kernel smoke test: fork, COW both ways, zero page, pipes, a write to text, fail-nth fork. */
#include "ulib.h"

static int failures;
#define CHECK(c) do { if (!(c)) { printf("cowsmoke: FAIL line %d: %s\n", __LINE__, #c); failures++; } } while (0)

static char data[3][4096] __attribute__((aligned(4096)));

static struct cow_vmquery q(const volatile void *p)
{
	struct cow_vmquery r;
	vmquery(p, &r);
	return r;
}

static int wait_status(int pid)
{
	int st = -1;
	CHECK(waitpid(pid, &st, 0) == pid);
	return st;
}

static void test_cow(void)
{
	data[0][0] = 'a';
	data[1][0] = 'b';
	struct cow_vmquery before = q(data[0]);
	CHECK(before.writable && before.refcount == 1);
	int pid = fork();
	if (pid == 0) {
		struct cow_vmquery s = q(data[0]);
		if (s.frame != before.frame || s.writable || !s.cow || s.refcount != 2)
			exit(2);
		data[0][0] = 'c';
		s = q(data[0]);
		if (s.frame == before.frame || !s.writable || s.cow || s.refcount != 1)
			exit(3);
		exit(data[0][0] == 'c' && data[1][0] == 'b' ? 0 : 4);
	}
	CHECK(pid > 0);
	/* written just before fork, written again at once: must not leak to child */
	int st = wait_status(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(data[0][0] == 'a');
	struct cow_vmquery after = q(data[0]);
	CHECK(after.frame == before.frame && after.refcount == 1 && !after.writable && after.cow);
	struct cow_meminfo m0, m1;
	meminfo(&m0);
	data[0][1] = 'x'; /* refcount 1: reuse in place, no copy */
	meminfo(&m1);
	CHECK(m1.cow_reuses == m0.cow_reuses + 1 && m1.cow_copies == m0.cow_copies);
	CHECK(m1.free_frames == m0.free_frames);
	CHECK(q(data[0]).writable && q(data[0]).frame == before.frame);
}

static void test_parent_first(void)
{
	data[2][0] = 'p';
	int pid = fork();
	if (pid == 0) {
		yield();
		exit(data[2][0] == 'p' ? 0 : 1);
	}
	data[2][0] = 'P'; /* parent writes first: parent copies */
	int st = wait_status(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(data[2][0] == 'P');
}

static void test_zero_page(void)
{
	volatile char *m = mmap_anon(2 * 4096, PROT_READ | PROT_WRITE);
	CHECK(!IS_ERR(m));
	CHECK(m[0] == 0);
	struct cow_vmquery z = q(m);
	CHECK(z.present && z.zero && !z.writable);
	int pid = fork();
	if (pid == 0) {
		m[0] = 7;
		struct cow_vmquery s = q(m);
		exit(s.zero || !s.writable || s.frame == z.frame || m[0] != 7 ? 1 : 0);
	}
	int st = wait_status(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(m[0] == 0 && q(m).frame == z.frame);
	CHECK(munmap((void *)m, 2 * 4096) == 0);
}

static void test_pipe_into_cow(void)
{
	int fds[2];
	CHECK(pipe(fds) == 0);
	memcpy(data[1], "parent", 7);
	int pid = fork();
	if (pid == 0) {
		close(fds[1]);
		/* the kernel writes into a COW page: it must break COW first */
		long n = read(fds[0], data[1], 6);
		long eof = read(fds[0], data[1] + 100, 1);
		exit(n == 6 && !memcmp(data[1], "child!", 6) && eof == 0 ? 0 : 1);
	}
	close(fds[0]);
	CHECK(write(fds[1], "child!", 6) == 6);
	close(fds[1]);
	int st = wait_status(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(!memcmp(data[1], "parent", 7));
}

static void test_text_write(void)
{
	struct cow_meminfo m0, m1;
	meminfo(&m0);
	int pid = fork();
	if (pid == 0) {
		*(volatile char *)(uintptr_t)&main = 0; /* text is read-only */
		exit(0);
	}
	int st = wait_status(pid);
	meminfo(&m1);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	CHECK(m1.segv_kills == m0.segv_kills + 1);
}

/* Arm fail-nth, fork, disarm, with no memory access in between: any write
 * (even to the stack) after fork would be a COW fault, i.e. an allocation
 * that the still-armed rule could fail.  A child exits at once. */
static long fork_with_failnth(uint64_t k, long *injected)
{
	register long site __asm__("r12") = FAILNTH_ANY_SITE;
	register long nth __asm__("r13") = (long)k;
	register long pid __asm__("r14");
	long inj;
	__asm__ volatile(
		"mov %[failnth], %%eax; mov %%r12, %%rdi; mov %[nthmode], %%esi; mov %%r13, %%rdx; syscall\n\t"
		"mov %[fork], %%eax; syscall\n\t"
		"mov %%rax, %%r14\n\t"
		"test %%rax, %%rax; jnz 1f\n\t"
		"xor %%edi, %%edi; mov %[exit], %%eax; syscall\n"
		"1: mov %[failnth], %%eax; mov %%r12, %%rdi; mov %[off], %%esi; xor %%edx, %%edx; syscall"
		: "=a"(inj), "=r"(pid)
		: "r"(site), "r"(nth), [failnth] "i"(SYS_failnth), [fork] "i"(SYS_fork), [exit] "i"(SYS_exit),
		  [nthmode] "i"(COWVMM_INJ_NTH), [off] "i"(COWVMM_INJ_OFF)
		: "rdi", "rsi", "rdx", "rcx", "r11", "memory");
	*injected = inj;
	return pid;
}

static void test_fork_failures(void)
{
	struct cow_meminfo m0, m1;
	long injected = 1;
	int k;
	if (failnth(FAILNTH_ANY_SITE, COWVMM_INJ_OFF, 0) < 0) {
		printf("cowsmoke: fail-nth not available (the VMM injects): skipped\n");
		return;
	}
	for (k = 1; injected; k++) {
		meminfo(&m0);
		long pid = fork_with_failnth((uint64_t)k, &injected);
		if (injected) {
			CHECK(pid == -ENOMEM);
			meminfo(&m1);
			CHECK(m1.free_frames == m0.free_frames);
			CHECK(m1.nprocs == m0.nprocs);
		} else {
			CHECK(pid > 0);
			wait_status((int)pid);
		}
	}
	printf("cowsmoke: fork failed cleanly at each of %d allocation points\n", k - 2);
}

static void test_exec(void)
{
	char *args[] = { "cowsmoke", "exit42", 0 };
	int pid = fork();
	if (pid == 0) {
		exec("cowsmoke", args);
		exit(1);
	}
	int st = wait_status(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42);
	CHECK(exec("no-such-program", args) == -ENOENT);
}

static void test_heap_and_protect(void)
{
	char *h = sbrk(3 * 4096);
	CHECK(!IS_ERR(h));
	h[0] = 1;
	h[2 * 4096] = 3;
	int pid = fork();
	if (pid == 0) {
		h[0] = 9;
		exit(h[0] == 9 && h[2 * 4096] == 3 ? 0 : 1);
	}
	int st = wait_status(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && h[0] == 1);
	CHECK(!IS_ERR(sbrk(-3 * 4096)));

	volatile char *m = mmap_anon(4096, PROT_READ | PROT_WRITE);
	m[0] = 5;
	CHECK(mprotect((void *)m, 4096, PROT_READ) == 0);
	pid = fork();
	if (pid == 0) {
		m[0] = 6; /* read-only region: SIGSEGV */
		exit(0);
	}
	st = wait_status(pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	CHECK(mprotect((void *)m, 4096, PROT_READ | PROT_WRITE) == 0);
	m[0] = 7; /* allowed again: the only reference, reused in place */
	CHECK(m[0] == 7 && q(m).writable && q(m).refcount == 1);
	CHECK(munmap((void *)m, 4096) == 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "exit42"))
		return 42;
	struct cow_meminfo start, end;
	meminfo(&start);
	test_cow();
	test_parent_first();
	test_zero_page();
	test_pipe_into_cow();
	test_text_write();
	test_exec();
	test_heap_and_protect();
	test_fork_failures();
	meminfo(&end);
	printf("cowsmoke: forks %lu copies %lu reuses %lu zero fills %lu, free %lu -> %lu\n",
	       (unsigned long)end.forks, (unsigned long)end.cow_copies, (unsigned long)end.cow_reuses,
	       (unsigned long)end.zero_fills, (unsigned long)start.free_frames, (unsigned long)end.free_frames);
	printf("cowsmoke: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
