/* guest/kernel/ktest.c — kernel self-tests chosen by the command line, each provoking one failure the VMM must report. */
#include "kernel.h"
#include "x86.h"

/* noinline: the VMM's tests look these symbols up to check the reported RIP. */
__attribute__((noinline)) void ktest_pf(void)
{
	/* Mapped by nothing: the gap just below the direct map. */
	volatile uint64_t *p = (volatile uint64_t *)(COWVMM_DIRECT_MAP_BASE - 0x1000000000ull);
	(void)*p;
}

__attribute__((noinline)) void ktest_gp(void)
{
	volatile uint64_t *p = (volatile uint64_t *)0x8000000000000000ull; /* non-canonical */
	(void)*p;
}

__attribute__((noinline)) void ktest_ud(void)
{
	__asm__ volatile("ud2");
}

__attribute__((noinline)) void ktest_assert(void)
{
	volatile int two = 2;
	KASSERT(two + two == 5);
}

__attribute__((noinline)) void ktest_triple(void)
{
	/* No usable IDT: int3 -> #GP -> #DF -> shutdown. */
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) p = { 0, 0 };
	__asm__ volatile("lidt %0; int3" : : "m"(p));
}

__attribute__((noinline)) void ktest_hang(void)
{
	__asm__ volatile("cli");
	for (;;)
		__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void ktest_badhc(void)
{
	static struct cowvmm_hc_console c;
	c.buf_gpa = boot.ram_size + 0x1000;
	c.len = 16;
	hypercall(COWVMM_HC_CONSOLE, &c);
}

static const struct {
	const char *name;
	void (*fn)(void);
} ktests[] = {
	{ "ktest-pf", ktest_pf },         { "ktest-gp", ktest_gp },
	{ "ktest-ud", ktest_ud },         { "ktest-assert", ktest_assert },
	{ "ktest-triple", ktest_triple }, { "ktest-hang", ktest_hang },
	{ "ktest-badhc", ktest_badhc },
};

/* Runs the self-test named by the first word; returns 0 if it is none.
 * A test that unexpectedly survives ends the run with a panic. */
int ktest_run(const char *cmdline)
{
	while (*cmdline == ' ')
		cmdline++;
	if (!strncmp(cmdline, "ktest-exit", 10) && (cmdline[10] == ' ' || !cmdline[10])) {
		long st = atol(cmdline + 10);
		kprintf("ktest-exit: exiting with status %ld\n", st);
		hc_exit((uint64_t)st);
	}
	for (size_t i = 0; i < ARRAY_SIZE(ktests); i++) {
		size_t n = strlen(ktests[i].name);
		if (!strncmp(cmdline, ktests[i].name, n) && (cmdline[n] == ' ' || !cmdline[n])) {
			kprintf("%s: running\n", ktests[i].name);
			ktests[i].fn();
			panic("%s survived", ktests[i].name);
		}
	}
	return 0;
}
