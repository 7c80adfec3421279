/* tests/unit/test-gate.c — the world's runner gate (--explore) with real threads and no KVM: one vCPU runs at a time, in the order chosen, released when it halts, stoppable, ended (TAP). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "vmm.h"
#include "world.h"

#define NV 3
#define POINTS 300   /* schedule points before the run ends */
#define CAP_S 20     /* a run taking longer is stuck: a failure */

/* Fake vCPUs: between world_checkin() and the next "exit" a vCPU is "in the
 * guest".  At each exit it passes a schedule point: the runner records
 * itself and hands the turn to the vCPU the plan names.  vCPU 2 "halts"
 * whenever it runs (stays in the guest until kicked), like a CPU in HLT with
 * nothing to wake it: the releaser (the main thread, as --explore's would)
 * gives the turn to another and kicks it.  Every 7th point the runner stops
 * the world, as an audit does, while the others are parked at the gate. */
static struct world w;
static struct vcpu vcpus[NV];
static atomic_bool kicked[NV];
static atomic_int in_guest;
static atomic_uint overlaps, stop_overlaps, releases;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned log_[POINTS + 8], nlog;
static const unsigned plan[] = { 0, 1, 1, 0, 2, 1, 0, 0, 2, 1 }; /* the turn after point k: plan[k % 10] */
static atomic_int finished;
static atomic_llong turn_since_ns;

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ll + t.tv_nsec;
}

static void fake_kick(struct vcpu *v)
{
	atomic_store(&kicked[v->id], true);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	while (world_checkin(&w, v)) {
		/* A kick sent while we were parked: KVM_RUN would return at once
		 * (immediate_exit), without an exit to handle. */
		if (atomic_exchange(&kicked[v->id], false))
			continue;
		if (atomic_fetch_add(&in_guest, 1) != 0)
			atomic_fetch_add(&overlaps, 1);
		int i = 0;
		for (; (v->id == 2 || i < 100) && !atomic_load(&kicked[v->id]); i++)
			sched_yield();
		bool kick = atomic_exchange(&kicked[v->id], false);
		atomic_fetch_sub(&in_guest, 1);
		if (kick)
			continue; /* EINTR: no exit, no point (a release, or a stopper's kick) */
		if (atomic_load(&w.runner) != (int)v->id) {
			atomic_fetch_add(&overlaps, 1); /* ran without the turn */
			continue;
		}
		pthread_mutex_lock(&log_lock);
		unsigned k = nlog;
		if (k < POINTS)
			log_[nlog++] = v->id;
		pthread_mutex_unlock(&log_lock);
		if (k >= POINTS) {
			world_end(&w, v, 9);
			break;
		}
		if (k % 7 == 6) {
			world_stop(&w, v);
			for (int i = 0; i < 20; i++) {
				if (atomic_load(&in_guest))
					atomic_fetch_add(&stop_overlaps, 1);
				sched_yield();
			}
			world_resume(&w, v);
		}
		atomic_store(&turn_since_ns, now_ns());
		world_set_runner(&w, (int)plan[k % 10]);
	}
	world_leave(&w, v);
	atomic_fetch_add(&finished, 1);
	return NULL;
}

int main(void)
{
	pthread_t t[NV];
	for (unsigned i = 0; i < NV; i++)
		vcpus[i] = (struct vcpu){ .id = i, .fd = -1, .stats_fd = -1 };
	world_init(&w, vcpus, NV, fake_kick);
	ok(atomic_load(&w.runner) == -1, "no gate by default: any vCPU may run");
	atomic_store(&turn_since_ns, now_ns());
	world_set_runner(&w, 0);
	for (unsigned i = 0; i < NV; i++) {
		world_join(&w, &vcpus[i]);
		pthread_create(&t[i], NULL, vcpu_thread, &vcpus[i]);
	}
	/* The releaser: vCPU 2 never reaches a point by itself. */
	long long t0 = now_ns();
	while (atomic_load(&finished) < NV && now_ns() - t0 < CAP_S * 1000000000ll) {
		struct timespec d = { 0, 2 * 1000 * 1000 };
		nanosleep(&d, NULL);
		if (atomic_load(&w.runner) == 2 && now_ns() - atomic_load(&turn_since_ns) > 5 * 1000 * 1000) {
			atomic_store(&turn_since_ns, now_ns());
			world_set_runner(&w, 0);
			fake_kick(&vcpus[2]);
			atomic_fetch_add(&releases, 1);
		}
		if (atomic_load(&w.ended))
			world_drain(&w);
	}
	if (atomic_load(&finished) < NV) {
		ok(0, "%d of %d vCPU threads ended within %d s (%u points): stuck", atomic_load(&finished), NV, CAP_S,
		   nlog);
		return tap_done();
	}
	for (unsigned i = 0; i < NV; i++)
		pthread_join(t[i], NULL);
	ok(nlog == POINTS, "the run passed %u schedule points and ended", nlog);
	ok(atomic_load(&overlaps) == 0, "never two vCPUs in the guest at once (%u overlaps)", atomic_load(&overlaps));
	/* Point k+1 is taken by the vCPU handed the turn at point k, except that
	 * vCPU 2 never takes one: its turns end in a release to vCPU 0. */
	unsigned wrong = 0;
	for (unsigned k = 0; k + 1 < nlog; k++) {
		unsigned want = plan[k % 10] == 2 ? 0 : plan[k % 10];
		wrong += log_[k + 1] != want;
	}
	ok(wrong == 0 && log_[0] == 0, "every point was taken by the vCPU the plan gave the turn to (%u wrong)", wrong);
	ok(atomic_load(&releases) > 0, "a vCPU that halted with the turn was released (%u times)", atomic_load(&releases));
	ok(atomic_load(&stop_overlaps) == 0 && w.stops > 0, "the runner stopped the world %lu times, nobody ran meanwhile",
	   w.stops);
	ok(w.active == 0 && w.owner == -1, "all left, nobody holds the world");
	world_destroy(&w);
	return tap_done();
}
