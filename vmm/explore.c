/* vmm/explore.c — the --explore module: one vCPU runs at a time, and at each guest schedule point (HC_SCHED) the plan's strategy picks the next. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cowvmm/names.h"
#include "explore.h"
#include "vmm.h"

/*
 * The turn passes through the world's runner gate (world_set_runner()):
 * only the runner passes world_checkin(), the others park.  The guest makes
 * HC_SCHED at its schedule points (COWVMM_SP_*, only when the boot flags
 * carry COWVMM_BOOT_F_EXPLORE); the handler, on the runner's thread, marks
 * what the point says (IDLE: not to be chosen until a WAKE names it; WAIT:
 * not this time) and asks the strategy (explore_sched.c).
 *
 * A runner may reach no point for long: a user-mode spin (a thread waiting
 * for a flag another thread sets), a HLT that only an interrupt ends.  The
 * releaser thread takes the turn from a runner that has reached no point for
 * --explore-release MS, gives it to the next vCPU that may run (in vCPU
 * order, not the strategy's: a release is an event of wall time, not of the
 * plan) and kicks the old runner out of KVM_RUN.  A run with releases is
 * reproducible only as far as its releases fell at the same places: the
 * summary counts them.
 *
 * Lock order: explore_state.lock, then world.lock (world_set_runner()).
 * Nothing holds world.lock while taking this one.
 */
#define RELEASE_MS_DEFAULT 100u
#define SCHED_PRINT_MAX 2000u /* characters of the schedule printed at the end */

struct explore_state {
	const char *arg;          /* --explore PLAN, NULL: off */
	struct explore_plan plan;
	struct explore_sched sched;
	unsigned release_ms;
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* the releaser sleeps here */
	bool locks_made, sched_made, thread_made, quit;
	pthread_t releaser;
	int runner;               /* who has the turn (as set by us) */
	uint32_t idle;            /* vCPUs at an IDLE point since their last WAKE */
	uint64_t last_point_ns;   /* when the runner last reached a point or got the turn */
	uint64_t points, by_point[COWVMM_SP_COUNT], releases;
	struct vm *vm;
};

static const struct vmm_module explore_module;

static struct explore_state *st(const struct vm *vm)
{
	return vm_state(vm, &explore_module);
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The vCPUs the guest has started. */
static uint32_t started(const struct vm *vm)
{
	uint32_t m = 0;
	for (unsigned i = 0; i < vm->nvcpus && i < EXPLORE_MAX_VCPUS; i++)
		if (vm->vcpus[i].started)
			m |= 1u << i;
	return m;
}

/* Give the turn to `to` (lock held). */
static void hand_over(struct explore_state *s, int to)
{
	s->runner = to;
	s->last_point_ns = now_ns();
	world_set_runner(&s->vm->world, to);
}

static void *releaser(void *arg);

static int hc_sched(struct vcpu *v, void *argp)
{
	struct vm *vm = v->vm;
	struct explore_state *s = st(vm);
	struct cowvmm_hc_sched a;
	memcpy(&a, argp, sizeof a); /* one read: the guest cannot change it under us */
	if (!s->arg)
		return vm_guest_error(v, "hypercall SCHED although the boot info says the VMM does not explore");
	if (a.point >= COWVMM_SP_COUNT)
		return vm_guest_error(v, "hypercall SCHED: unknown schedule point %u", a.point);
	uint32_t me = 1u << v->id;
	pthread_mutex_lock(&s->lock);
	s->points++;
	s->by_point[a.point]++;
	if (a.point == COWVMM_SP_IDLE)
		s->idle |= me;
	else
		s->idle &= ~me; /* it runs: whatever it was waiting for came */
	if (a.point == COWVMM_SP_WAKE)
		s->idle &= ~(uint32_t)a.arg;
	uint32_t all = started(vm), eligible = all & ~s->idle;
	/* Someone else must act first: a spin wait, a halt, and a yield (user
	 * code yields while it waits for another thread, cases_smp.c's
	 * wait_ge: choosing the yielder again would only repeat the yield). */
	if (a.point == COWVMM_SP_WAIT || a.point == COWVMM_SP_IDLE || a.point == COWVMM_SP_YIELD)
		eligible &= ~me;
	if (!eligible)
		eligible = all & ~me; /* all idle or waiting: someone's interrupt will come */
	if (!eligible)
		eligible = me;
	unsigned next = explore_choose(&s->sched, v->id, eligible);
	int old = s->runner;
	if ((int)next != old) {
		hand_over(s, (int)next);
		/* The releaser gave the turn away while we were in this exit: the
		 * one it went to may be inside KVM_RUN. */
		if (old != (int)v->id && old >= 0)
			vcpu_kick(&vm->vcpus[old]);
	} else {
		s->last_point_ns = now_ns();
	}
	/* The releaser starts with the first point: the world exists by then. */
	if (!s->thread_made && !s->quit) {
		int r = pthread_create(&s->releaser, NULL, releaser, s);
		if (r) {
			pthread_mutex_unlock(&s->lock);
			return vm_guest_error(v, "--explore: cannot start the releaser thread: %s", strerror(r));
		}
		s->thread_made = true;
	}
	pthread_mutex_unlock(&s->lock);
	return VMM_CONTINUE;
}

/* The releaser: a runner that reaches no point for release_ms loses the turn. */
static void *releaser(void *arg)
{
	struct explore_state *s = arg;
	struct vm *vm = s->vm;
	pthread_mutex_lock(&s->lock);
	while (!s->quit && !atomic_load(&vm->world.ended)) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_nsec += 10 * 1000 * 1000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cond, &s->lock, &t);
		/* After the end nothing is handed over: the vCPU threads are going
		 * and the world with them (vm_run() destroys it before the finish
		 * hooks stop this thread). */
		if (s->quit || atomic_load(&vm->world.ended) || s->runner < 0 ||
		    now_ns() - s->last_point_ns < (uint64_t)s->release_ms * 1000000u)
			continue;
		int old = s->runner;
		uint32_t all = started(vm), others = all & ~s->idle & ~(1u << old);
		if (!others)
			others = all & ~(1u << old);
		if (!others) {
			s->last_point_ns = now_ns(); /* alone: nobody to give it to */
			continue;
		}
		unsigned to = (unsigned)old;
		do
			to = (to + 1) % vm->nvcpus;
		while (!(others >> to & 1));
		s->releases++;
		hand_over(s, (int)to);
		vcpu_kick(&vm->vcpus[old]);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- options ------------------------------------------------------------------ */

enum { O_EXPLORE, O_RELEASE };

static const struct vmm_option explore_options[] = {
	{ "explore", true, O_EXPLORE },
	{ "explore-release", true, O_RELEASE },
	{ NULL, false, 0 },
};

static int explore_option(struct vm *vm, int id, const char *arg)
{
	struct explore_state *s = st(vm);
	char err[200];
	if (id == O_RELEASE) {
		char *end;
		unsigned long ms = strtoul(arg, &end, 10);
		if (!*arg || *end || *arg == '-' || ms < 1 || ms > 60000) {
			fprintf(stderr, "vmm: invalid --explore-release '%s' (milliseconds, 1..60000)\nTry 'vmm --help'.\n", arg);
			return VMM_EXIT_USAGE;
		}
		s->release_ms = (unsigned)ms;
		return 0;
	}
	explore_plan_free(&s->plan);
	if (explore_parse(arg, &s->plan, err, sizeof err)) {
		fprintf(stderr, "vmm: invalid --explore '%s': %s\nTry 'vmm --help'.\n", arg, err);
		return VMM_EXIT_USAGE;
	}
	s->arg = arg;
	return 0;
}

static void explore_usage(FILE *f)
{
	fprintf(f,
		"\n"
		"Schedule exploration (the VMM decides which vCPU runs):\n"
		"      --explore PLAN    one vCPU runs at a time; at each schedule point of the\n"
		"                        guest kernel (spin waits, idle, wake-ups, yield, the\n"
		"                        COW copy's unlocked window, fork, exit) PLAN picks\n"
		"                        the next: pct:SEED[:D[:K]] (PCT, depth D, default 2,\n"
		"                        over K points, default %u), random:SEED, or\n"
		"                        replay:SCHEDULE (as printed at the end of a run,\n"
		"                        e.g. 0x12.1x3.0: vCPU 0 for 12 points, ...)\n"
		"      --explore-release MS  a vCPU that reaches no point for MS ms (a\n"
		"                        user-mode spin) loses the turn (default %u)\n",
		EXPLORE_PCT_K, RELEASE_MS_DEFAULT);
}

static int explore_start(struct vm *vm)
{
	struct explore_state *s = st(vm);
	if (!s->arg && s->release_ms) {
		fprintf(stderr, "vmm: --explore-release needs --explore PLAN\nTry 'vmm --help'.\n");
		return VMM_EXIT_USAGE;
	}
	if (!s->release_ms)
		s->release_ms = RELEASE_MS_DEFAULT;
	return VMM_CONTINUE;
}

static int explore_setup(struct vm *vm)
{
	struct explore_state *s = st(vm);
	/* Registered always: a guest that makes it uninvited is told so. */
	vm_register_hypercall(vm, COWVMM_HC_SCHED, sizeof(struct cowvmm_hc_sched), hc_sched);
	if (!s->arg)
		return 0;
	char err[200];
	if (explore_sched_init(&s->sched, &s->plan, vm->nvcpus, err, sizeof err)) {
		fprintf(stderr, "vmm: --explore %s: %s\n", s->arg, err);
		return VMM_EXIT_USAGE;
	}
	s->sched_made = true;
	s->vm = vm;
	s->runner = 0;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	s->locks_made = true;
	s->last_point_ns = now_ns();
	vm->boot_flags |= COWVMM_BOOT_F_EXPLORE;
	vm->one_at_a_time = true;
	return 0;
}

int explore_info(const struct vm *vm, struct explore_info *out)
{
	const struct explore_state *s = st(vm);
	if (!s->sched_made)
		return 0;
	memset(out, 0, sizeof *out);
	_Static_assert(COWVMM_SP_COUNT <= 16, "explore_info.by_point too small");
	out->plan = s->arg;
	out->points = s->points;
	memcpy(out->by_point, s->by_point, sizeof s->by_point);
	out->switches = s->sched.switches;
	out->releases = s->releases;
	out->diverged = s->sched.diverged;
	/* The longest schedule: "31x1000000." per choice run, at most one run per choice. */
	size_t n = s->sched.ntaken * 12 + 1;
	out->schedule = malloc(n);
	out->complete = out->schedule && explore_format(&s->sched, out->schedule, n) == 0 &&
			s->sched.ntaken == s->sched.step;
	return 1;
}

static void stop_releaser(struct explore_state *s)
{
	if (!s->locks_made)
		return;
	pthread_mutex_lock(&s->lock);
	s->quit = true;
	bool made = s->thread_made;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (made)
		pthread_join(s->releaser, NULL);
	s->thread_made = false;
}

static int explore_finish(struct vm *vm, int status)
{
	struct explore_state *s = st(vm);
	if (!s->sched_made || status == VMM_EXIT_NO_KVM)
		return status;
	stop_releaser(s);
	char *sched = malloc(SCHED_PRINT_MAX + 1);
	bool whole = sched && explore_format(&s->sched, sched, SCHED_PRINT_MAX + 1) == 0;
	fflush(stdout);
	fprintf(stderr, "vmm: explore: %s: %" PRIu64 " schedule point(s) (", s->arg, s->points);
	for (unsigned k = 0, first = 1; k < COWVMM_SP_COUNT; k++)
		if (s->by_point[k]) {
			fprintf(stderr, "%s%s %" PRIu64, first ? "" : ", ", cowvmm_sched_point_name(k), s->by_point[k]);
			first = 0;
		}
	fprintf(stderr, "), %" PRIu64 " switch(es), %" PRIu64 " release(s)", s->sched.switches, s->releases);
	if (s->plan.kind == EXPLORE_REPLAY)
		fprintf(stderr, ", %" PRIu64 " divergence(s) from the schedule", s->sched.diverged);
	fputc('\n', stderr);
	if (sched && sched[0]) {
		bool failed = status != VMM_EXIT_OK;
		fprintf(stderr, "vmm: explore: %s%s%s%s\n", failed ? "replay this run with --explore replay:" : "schedule: ",
			sched, whole ? "" : "...", whole ? "" : " (longer than printed)");
		if (s->releases)
			fprintf(stderr, "vmm: explore: %" PRIu64 " release(s) (a vCPU past --explore-release without a "
					"point): a replay may not follow the same path\n", s->releases);
	}
	free(sched);
	return status;
}

static void explore_teardown(struct vm *vm)
{
	struct explore_state *s = st(vm);
	stop_releaser(s);
	if (s->sched_made)
		explore_sched_free(&s->sched);
	explore_plan_free(&s->plan);
	if (s->locks_made) {
		pthread_cond_destroy(&s->cond);
		pthread_mutex_destroy(&s->lock);
	}
	s->sched_made = s->locks_made = false;
}

static const struct vmm_module explore_module = {
	.name = "explore",
	.order = 15,
	.state_size = sizeof(struct explore_state),
	.options = explore_options,
	.usage = explore_usage,
	.option = explore_option,
	.start = explore_start,
	.setup = explore_setup,
	.finish = explore_finish,
	.teardown = explore_teardown,
};
VMM_MODULE(explore_module);
