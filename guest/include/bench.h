/* guest/include/bench.h — SYS_bench operations, shared by the guest kernel (kbench.c) and cowbench. */
#ifndef COWVMM_GUEST_BENCH_H
#define COWVMM_GUEST_BENCH_H

/*
 * bench(op, a, b) (SYS_bench).  Timing support without a VM exit per sample:
 * samples pile up in a kernel ring in guest memory and go to the VMM in one
 * HC_BENCH phase-2 hypercall at the end.
 */
enum {
	BENCH_OP_BEGIN = 0, /* (event, arg): HC_BENCH phase 0, a timed loop begins -> 0 */
	BENCH_OP_END = 1,   /* (event, arg): HC_BENCH phase 1, the loop ended -> 0 */
	BENCH_OP_ARM = 2,   /* (on, arg): time the page-fault handler (entry -> exit) while on;
			       each fault that copied, reused or zero-filled a frame adds a
			       sample COW_FAULT / REUSE_FAULT / ZERO_FAULT with that arg -> 0 */
	BENCH_OP_PUSH = 3,  /* (struct cowvmm_sample *, count): append user samples to the
			       ring -> count, -EFAULT, -EINVAL (bad event), -ENOMEM (ring full) */
	BENCH_OP_FLUSH = 4, /* (): hand the ring to the VMM (HC_BENCH phase 2), empty it -> count */
	BENCH_OP_INFO = 5,  /* (): ring capacity in samples (high 32 bits: samples dropped
			       because the ring was full while armed) */
};

#endif
