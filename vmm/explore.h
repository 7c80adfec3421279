/* vmm/explore.h — --explore: at each schedule point the VMM chooses which vCPU runs next (PCT, random, or a recorded schedule replayed); choosing is pure (explore_sched.c). */
#ifndef COWVMM_EXPLORE_H
#define COWVMM_EXPLORE_H

#include <stddef.h>
#include <stdint.h>

/*
 * A schedule point is a place in the guest kernel where another vCPU may be
 * given the turn (a hypercall, or a breakpoint on a kernel symbol).  With
 * --explore only one vCPU runs at a time; at each point the strategy picks
 * the next one among those that may run (the "eligible" mask: started, not
 * idle).  Given the same plan and the same sequence of points and masks,
 * the choices are the same: a run is reproducible from its plan, and the
 * choices it made are a replay schedule (explore_format()).
 *
 * Strategies:
 *  - pct:SEED[:D[:K]]  PCT (Burckhardt, Kothari, Musuvathi, Nagarakatte,
 *    ASPLOS'10): random distinct priorities, the highest-priority eligible
 *    vCPU runs; at D-1 points drawn at random in 1..K the running vCPU's
 *    priority drops below every other.  Finds a bug of depth D with
 *    probability at least 1/(n * K^(D-1)) per run.  D defaults to 2, K to
 *    EXPLORE_PCT_K.
 *  - random:SEED  a uniformly random eligible vCPU at every point.
 *  - replay:SCHEDULE  the vCPUs given, in order ("0x12.1x3.0": vCPU 0 for
 *    12 points, then 1 for 3, then 0), as explore_format() writes them; a
 *    choice that is not eligible when its point comes is a divergence
 *    (counted; the run goes on with the vCPU that reached the point).
 */
#define EXPLORE_PCT_K 2000u       /* PCT's default bound on schedule points per run */
#define EXPLORE_MAX_DEPTH 8u      /* PCT's D at most */
#define EXPLORE_MAX_VCPUS 32u     /* eligible masks are 32 bits */
#define EXPLORE_MAX_STEPS 1000000u /* choices kept (a run with more keeps choosing, and says so) */
#define EXPLORE_REPLAY_MAX 1000000u /* points a replay schedule may name */

enum explore_kind { EXPLORE_OFF, EXPLORE_PCT, EXPLORE_RANDOM, EXPLORE_REPLAY };

struct explore_plan {
	enum explore_kind kind;
	uint64_t seed;
	unsigned depth;        /* PCT: D */
	uint64_t steps;        /* PCT: K */
	uint8_t *replay;       /* REPLAY: the vCPU for each point (malloc'ed) */
	size_t nreplay;
};

/* Parse an --explore argument: 0, or -1 with a one-line reason in err
 * (the plan is then empty). */
int explore_parse(const char *arg, struct explore_plan *p, char *err, size_t errsz);
void explore_plan_free(struct explore_plan *p);

struct explore_sched {
	struct explore_plan plan;          /* borrowed: the caller keeps it alive */
	unsigned nvcpus;
	uint64_t rng;                      /* splitmix64 state */
	unsigned prio[EXPLORE_MAX_VCPUS];  /* PCT: higher runs first */
	uint64_t change_at[EXPLORE_MAX_DEPTH]; /* PCT: points (1-based) where the runner drops */
	uint64_t step;                     /* points so far */
	uint8_t *taken;                    /* the choices, EXPLORE_MAX_STEPS at most */
	size_t ntaken, cap;
	uint64_t switches;                 /* choices of another vCPU than the one at the point */
	uint64_t diverged;                 /* replay: choices that were not eligible */
};

/* 0, or -1 (nvcpus out of 1..EXPLORE_MAX_VCPUS, or a replay naming a vCPU
 * >= nvcpus: the reason in err). */
int explore_sched_init(struct explore_sched *s, const struct explore_plan *p, unsigned nvcpus, char *err,
		       size_t errsz);
void explore_sched_free(struct explore_sched *s);

/* At a schedule point reached by vCPU `cur`, with `eligible` the vCPUs that
 * may run now (bit i: vCPU i; 0 is taken as "only cur"): the vCPU to run next. */
unsigned explore_choose(struct explore_sched *s, unsigned cur, uint32_t eligible);

/* The choices so far as a replay schedule, NUL-terminated: 0, or -1 when
 * `n` is too small (buf then holds as much as fits). */
int explore_format(const struct explore_sched *s, char *buf, size_t n);

/* The module's figures for the report (explore.c): false when --explore is off. */
struct vm;
struct explore_info {
	const char *plan;        /* as given */
	uint64_t points, by_point[16], switches, releases, diverged;
	char *schedule;          /* malloc'ed (free it), NULL if out of memory */
	int complete;            /* the whole schedule is in `schedule` */
};
int explore_info(const struct vm *vm, struct explore_info *out);

#endif /* COWVMM_EXPLORE_H */
