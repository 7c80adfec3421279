/* guest/kernel/kbench.h — benchmark hooks on the page-fault path: free unless a benchmark armed them. */
#ifndef GUEST_KBENCH_H
#define GUEST_KBENCH_H

#include "kernel.h"
#include "cpu.h"

#define KBENCH_EV_NONE 0xffffffffu

struct kbench_state {
	int armed;      /* BENCH_OP_ARM on: time every page fault */
	uint32_t arg;   /* argument stored with each fault sample */
};
extern struct kbench_state kbench;

/* Taken at handler entry; t0 == 0 means "not timing this fault". */
struct kbench_mark {
	uint64_t t0;
};

static inline uint64_t kbench_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* Handler entry.  Which path the fault took is what the fault code left in
 * this CPU's fault_ev (fault.c) -- per CPU, as other CPUs fault meanwhile. */
static inline void kbench_enter(struct kbench_mark *m)
{
	m->t0 = 0;
	if (__builtin_expect(!kbench.armed, 1))
		return;
	mycpu()->fault_ev = KBENCH_EV_NONE;
	m->t0 = kbench_rdtsc();
}

/* Handler exit: record the sample (out of line, only when timing). */
void kbench_exit_slow(const struct kbench_mark *m, uint64_t t1);
static inline void kbench_exit(const struct kbench_mark *m)
{
	if (__builtin_expect(m->t0 != 0, 0))
		kbench_exit_slow(m, kbench_rdtsc());
}

/* SYS_bench's work (ops in guest/include/bench.h); sys_bench in kbench.c calls it. */
long kbench_syscall(int op, uint64_t a, uint64_t b);

#endif
