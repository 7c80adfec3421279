/* cases_fail.c — catalogue 11-13: fork failing at every allocation, OOM in a COW fault, page-table page failures. */
#include "cowtest.h"
#include "cowvmm/names.h" /* sites named as --inject alloc:SITE spells them */

enum { NPG = 4, KMAX = 256 };

/* SYS_failnth answers -ENOSYS when absent, -EBUSY under a VMM --inject plan. */
static bool injection_usable(void)
{
	int r = failnth(COWVMM_SITE_DATA_FRAME, COWVMM_INJ_OFF, 0);
	return r != -ENOSYS && r != -EBUSY;
}

/* The parent's pages as they must be after any failed fork: same frames,
 * refcount 1, contents intact; and the next write may be a reuse, never a copy. */
static void check_unchanged(struct ctx *c, uint8_t *x, const uint64_t *f, const char *when)
{
	struct counts a, b;
	warm_stack(); /* the failed fork may have write-protected the stack too */
	for (int i = 0; i < NPG; i++) {
		uint8_t *p = x + i * PAGE;
		expect_page(c, p, (struct page_model){ f[i], 1, 1, -1, -1, 0, 1 }, when);
		expect_fill(c, p, PAGE, (uint8_t)('a' + i), when);
		struct cow_vmquery q;
		memset(&q, 0, sizeof q);
		vmquery(p, &q);
		measured_poke(p, (uint8_t)('a' + i), &a, &b);
		expect_delta(c, &a, &b, q.cow ? D_REUSE : D_NONE, "first write after the failed fork");
		expect_page(c, p, M_PRIVATE(f[i]), "page after that write");
	}
}

/*
 * Arm the injection, fork, disarm: three system calls with no user-mode memory
 * access in between.  After fork returns, the parent's stack is shared COW, so
 * any push (a call to failnth()) would itself allocate -- and an injection
 * still armed because fork did not reach its k-th allocation would then fail
 * that unrelated fault (counting is kernel-wide).  Returns fork's result; the
 * arming result and the number of failures injected come back through *arm_rc
 * and *injected.
 */
static long arm_fork_disarm(int site, uint64_t k, long *arm_rc, long *injected)
{
	long pid, rc, inj;
	__asm__ volatile(
		"mov %[nfail], %%eax\n\t"
		"mov %[site], %%edi\n\t"
		"mov %[mode], %%esi\n\t"
		"mov %[k], %%rdx\n\t"
		"syscall\n\t"
		"mov %%rax, %%r13\n\t"  /* arm result */
		"mov %[nfork], %%eax\n\t"
		"syscall\n\t"
		"mov %%rax, %%r12\n\t"  /* fork result */
		"mov %[nfail], %%eax\n\t"
		"mov %[site], %%edi\n\t"
		"xor %%esi, %%esi\n\t"
		"xor %%edx, %%edx\n\t"
		"syscall\n\t"
		"mov %%rax, %[inj]\n\t" /* failures injected since armed */
		"mov %%r12, %[pid]\n\t"
		"mov %%r13, %[rc]"
		: [pid] "=r"(pid), [rc] "=r"(rc), [inj] "=r"(inj)
		: [nfail] "i"(SYS_failnth), [nfork] "i"(SYS_fork), [site] "r"(site),
		  [mode] "i"(COWVMM_INJ_NTH), [k] "r"(k)
		: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "memory");
	*arm_rc = rc;
	*injected = inj;
	return pid;
}

/* Fail the k-th allocation at `site` inside fork, for k = 1, 2, ... until fork
 * no longer reaches a k-th allocation there and succeeds.  Returns the number
 * of failures seen (allocations fork makes at that site). */
static int fork_fail_site(struct ctx *c, uint8_t *x, const uint64_t *f, int site)
{
	char when[96];
	for (int k = 1; k <= KMAX; k++) {
		struct counts a, b;
		warm_stack();
		snap(&a);
		long rc, inj;
		int pid = (int)arm_fork_disarm(site, (uint64_t)k, &rc, &inj);
		if (pid == 0)
			exit(0);
		if (rc != 0) {
			fail(c, "failnth(%s, NTH, %d) returned %ld", cowvmm_site_name(site), k, rc);
			if (pid > 0)
				reap(c, pid, ST_EXIT(0), "child");
			return -1;
		}
		if (pid > 0) {
			expect_eq(c, (uint64_t)inj, 0, "failures injected into a fork that succeeded");
			reap(c, pid, ST_EXIT(0), "child of the fork that succeeded");
			return k - 1;
		}
		snprintf(when, sizeof when, "after fork failed at allocation %d of site %s", k, cowvmm_site_name(site));
		expect_eq(c, (uint64_t)pid, (uint64_t)-ENOMEM, when);
		expect_eq(c, (uint64_t)inj, 1, "failures injected into the failed fork");
		int st;
		expect_eq(c, (uint64_t)waitpid(-1, &st, WNOHANG), (uint64_t)-ECHILD, "waitpid(-1) after the failed fork (no child may exist)");
		snap(&b);
		/* Stack writes since may have been reuse faults; nothing else. */
		expect_delta(c, &a, &b, (struct counts_delta){ .reuses = D_ANY }, when);
		expect_eq(c, b.nprocs, a.nprocs, "processes after the failed fork");
		expect_eq(c, b.fork_fail - a.fork_fail, 1, "fork_failures counted");
		expect_eq(c, b.forks, a.forks, "successful forks counted");
		check_unchanged(c, x, f, when);
		expect_checkpoint(c, CP(11, 1));
		if (c->failures)
			return -1; /* one clear report is enough */
	}
	fail(c, "fork still failing at allocation %d of site %s", KMAX, cowvmm_site_name(site));
	return -1;
}

static uint8_t *setup_pages(struct ctx *c, uint64_t *f)
{
	uint8_t *x = map_pages(c, NPG, 0);
	if (!x)
		return NULL;
	for (int i = 0; i < NPG; i++) {
		memset(x + i * PAGE, 'a' + i, PAGE);
		f[i] = frame_of(x + i * PAGE);
	}
	return x;
}

/* 11. fork() fails at the k-th allocation, for every k and every site. */
int t_forkfail(struct ctx *c)
{
	if (!injection_usable())
		return skip(c, "SYS_failnth unavailable (not implemented, or the VMM supplied a plan)");
	uint64_t f[NPG];
	uint8_t *x = setup_pages(c, f);
	if (!x)
		return CASE_FAIL;
	int total = 0;
	for (int s = 0; s < COWVMM_SITE_COUNT; s++) {
		int n = fork_fail_site(c, x, f, s);
		if (n < 0)
			break;
		diag(c, "fork makes %d allocation(s) at site %s; each one failed cleanly", n, cowvmm_site_name(s));
		total += n;
	}
	expect_true(c, total > 0 || c->failures, "no injected allocation failure ever hit fork");
	return case_result(c);
}

/* A child that arms a failure at `site` and then writes `p`: it must die of
 * SIGKILL having copied nothing, and the parent's byte, frame and refcount
 * must be intact.  `fresh`: p was never touched (nothing to compare). */
static void oom_child(struct ctx *c, volatile uint8_t *p, int site, bool fresh, const char *what)
{
	uint8_t before = fresh ? 0 : peek(p);
	uint64_t f = fresh ? ANY : frame_of(p);
	struct cow_vmquery q0;
	memset(&q0, 0, sizeof q0);
	vmquery(p, &q0);
	struct gate up, down;
	if (!gate_open(c, &up) || !gate_open(c, &down))
		return;
	int pid = xfork(c);
	if (pid < 0)
		return;
	warm_stack();
	if (pid == 0) {
		c->who = "child";
		gate_post(&up, 0);
		gate_wait(&down);
		failnth(site, COWVMM_INJ_NTH, 1);
		*p = (uint8_t)(before + 1);
		failnth(site, COWVMM_INJ_OFF, 0);
		fail(c, "%s: the write survived (no allocation was needed or the failure was ignored)", what);
		exit(5);
	}
	struct counts a, b;
	gate_wait(&up);
	snap(&a);
	gate_post(&down, 0);
	reap(c, pid, ST_SIG(SIGKILL), what);
	snap(&b);
	expect_eq(c, (uint64_t)failnth(site, COWVMM_INJ_OFF, 0), 1, "failures injected (disarmed by the parent)");
	/* Only the child ran in between: it copied and filled nothing. */
	expect_delta(c, &a, &b, (struct counts_delta){ .free = D_ANY, .oom = 1 }, what);
	expect_eq(c, peek(p), before, "the other sharer's byte");
	if (f != ANY)
		expect_page(c, p, q0.zero ? M_ZERO(f) : M_COW(f, 1), "the other sharer's page after the OOM kill");
	expect_checkpoint(c, CP(12, 1));
	gate_close(&up);
	gate_close(&down);
}

/* 12. Out of memory in a COW fault kills only the faulting process. */
int t_oom(struct ctx *c)
{
	if (!injection_usable())
		return skip(c, "SYS_failnth unavailable (not implemented, or the VMM supplied a plan)");
	uint8_t *x = map_pages(c, 2, 'O');
	if (!x)
		return CASE_FAIL;
	uint64_t f = frame_of(x);
	oom_child(c, x, COWVMM_SITE_DATA_FRAME, false, "COW copy fails in the child");
	struct counts a, b;
	warm_stack();
	expect_fill(c, x, 2 * PAGE, 'O', "parent's pages after the child's OOM kill");
	measured_poke(x, 'p', &a, &b);
	expect_delta(c, &a, &b, D_REUSE, "parent's write after the other sharer died");
	expect_page(c, x, M_PRIVATE(f), "parent's page after its write");

	/* The same for a write fault on the zero frame. */
	uint8_t *z = mmap_anon(2 * PAGE, PROT_READ | PROT_WRITE);
	if (z == NULL || IS_ERR(z))
		return fail(c, "mmap_anon returned %p", (void *)z), CASE_FAIL;
	(void)peek(z);
	(void)peek(z + PAGE);
	oom_child(c, z, COWVMM_SITE_DATA_FRAME, false, "zero fill fails in the child");
	expect_fill(c, z, 2 * PAGE, 0, "parent's zero pages after the child's OOM kill");
	return case_result(c);
}

/* 13. A page-table page cannot be allocated: in fork (every k), and in a fault
 * that needs a new page table (first touch of a fresh 2 MiB range). */
int t_ptfail(struct ctx *c)
{
	if (!injection_usable())
		return skip(c, "SYS_failnth unavailable (not implemented, or the VMM supplied a plan)");
	uint64_t f[NPG];
	uint8_t *x = setup_pages(c, f);
	if (!x)
		return CASE_FAIL;
	int n = fork_fail_site(c, x, f, COWVMM_SITE_PT_PAGE);
	if (n >= 0) {
		diag(c, "fork makes %d page-table allocation(s)", n);
		expect_true(c, n > 0, "fork of a process with mapped pages allocated no page-table page");
	}
	/* A region spanning a whole fresh 2 MiB range: its first touch needs a new
	 * last-level page table. */
	const uint64_t two_mib = 2ull << 20;
	uint8_t *r = mmap_anon(3 * two_mib, PROT_READ | PROT_WRITE);
	if (r == NULL || IS_ERR(r))
		return fail(c, "mmap_anon(6 MiB) returned %p", (void *)r), CASE_FAIL;
	uint8_t *fresh = (uint8_t *)(((uint64_t)r + two_mib - 1) & ~(two_mib - 1));
	oom_child(c, fresh, COWVMM_SITE_PT_PAGE, true, "page-table page allocation fails in a fault");
	for (int i = 0; i < NPG; i++)
		expect_fill(c, x + i * PAGE, PAGE, (uint8_t)('a' + i), "parent's pages at the end");
	return case_result(c);
}
