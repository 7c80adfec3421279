/* tests/unit/test-world.c — stopping the world with real threads and no KVM: while one vCPU holds the world, no other runs "guest code"; ends reach everyone (TAP). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "vmm.h"
#include "world.h"

#define NV 4
#define STOPS 20    /* the run ends after this many stops ... */
#define CAP_S 20     /* ... or after this long: a failure (a stopper waiting forever) */

/* A fake vCPU "runs guest code" between world_checkin() and its next exit:
 * it spins until kicked (like KVM_RUN returning EINTR) or for a while (like
 * an exit of its own).  vCPU 3 ignores every other kick, as a kick lost in
 * the immediate_exit window would be: the stopper must kick again.  vCPUs
 * 2 and 3 start late (as CPUs the guest starts with HC_CPU_START) and, like
 * a CPU halted in KVM with interrupts on, leave "the guest" only when
 * kicked: a stopper that does not kick a late joiner waits forever. */
static struct world w;
static struct vcpu vcpus[NV];
static atomic_bool kicked[NV];
static atomic_uint kicks[NV];
static atomic_int in_guest;          /* fake vCPUs inside "KVM_RUN" now */
static atomic_int holders;           /* vCPUs inside a stopped world now */
static atomic_uint bad_overlap;      /* a stopped world saw a vCPU running */
static atomic_uint bad_holders;      /* two vCPUs held the world at once */
static atomic_ulong world_stops;
static atomic_bool end_now;
static int statuses[NV];
static atomic_int finished;          /* vCPU threads whose loop returned */

static void fake_kick(struct vcpu *v)
{
	unsigned n = atomic_fetch_add(&kicks[v->id], 1);
	if (v->id == 3 && n % 2 == 0)
		return; /* lost */
	atomic_store(&kicked[v->id], true);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	unsigned exits = 0;
	while (world_checkin(&w, v)) {
		atomic_fetch_add(&in_guest, 1);
		bool halted = v->id >= 2;
		for (int i = 0; (halted || i < 200) && !atomic_load(&kicked[v->id]); i++)
			sched_yield();
		atomic_store(&kicked[v->id], false);
		atomic_fetch_sub(&in_guest, 1);
		if (++exits % 7 == 0 || atomic_load(&end_now)) {
			/* A checkpoint: everyone else must hold still. */
			world_stop(&w, v);
			if (atomic_fetch_add(&holders, 1) != 0)
				atomic_fetch_add(&bad_holders, 1);
			for (int i = 0; i < 50; i++) {
				if (atomic_load(&in_guest) != 0)
					atomic_fetch_add(&bad_overlap, 1);
				sched_yield();
			}
			atomic_fetch_sub(&holders, 1);
			atomic_fetch_add(&world_stops, 1);
			world_resume(&w, v);
		}
		if (v->id == 2 && (atomic_load(&world_stops) >= STOPS || atomic_load(&end_now))) {
			statuses[v->id] = world_end(&w, v, 7);
			break;
		}
	}
	if (!statuses[v->id])
		statuses[v->id] = w.status;
	world_leave(&w, v);
	atomic_fetch_add(&finished, 1);
	return NULL;
}

/* Wait up to CAP_S for cond(); false if it never came (threads stuck). */
static bool wait_for(bool (*cond)(void))
{
	for (int i = 0; i < CAP_S * 10 && !cond(); i++) {
		struct timespec d = { 0, 100 * 1000 * 1000 };
		nanosleep(&d, NULL);
	}
	return cond();
}

static bool enough_stops(void) { return atomic_load(&world_stops) >= STOPS; }
static bool all_finished(void) { return atomic_load(&finished) == NV; }
static bool ended(void) { return atomic_load(&w.ended); }

int main(void)
{
	pthread_t t[NV];
	for (unsigned i = 0; i < NV; i++)
		vcpus[i] = (struct vcpu){ .id = i, .fd = -1, .stats_fd = -1 };
	world_init(&w, vcpus, NV, fake_kick);
	for (unsigned i = 0; i < NV; i++) {
		if (i == 2) /* the late ones join once the world has been stopped a few times */
			while (atomic_load(&world_stops) < 3)
				sched_yield();
		world_join(&w, &vcpus[i]);
		pthread_create(&t[i], NULL, vcpu_thread, &vcpus[i]);
	}
	bool progressed = wait_for(enough_stops);
	atomic_store(&end_now, true);
	if (progressed && wait_for(ended))
		world_drain(&w); /* as vm_run() does: a lost end kick is sent again */
	if (!progressed || !wait_for(all_finished)) {
		/* Threads stuck (a stopper waiting for a vCPU that never parks): no join. */
		ok(0, "the world was stopped %lu times, %d of %d threads ended within %d s: stuck",
		   atomic_load(&world_stops), atomic_load(&finished), NV, CAP_S);
		return tap_done();
	}
	for (unsigned i = 0; i < NV; i++)
		pthread_join(t[i], NULL);
	unsigned long stops = atomic_load(&world_stops);
	ok(stops >= STOPS, "the world was stopped %lu times by %d vCPU threads", stops, NV);
	ok(atomic_load(&bad_overlap) == 0, "no vCPU ran while the world was stopped (%u overlaps seen)",
	   atomic_load(&bad_overlap));
	ok(atomic_load(&bad_holders) == 0, "never two holders at once (%u seen)", atomic_load(&bad_holders));
	ok(atomic_load(&kicks[3]) > 0, "vCPU 3 lost half its kicks (%u kicks) and was kicked again",
	   atomic_load(&kicks[3]));
	bool same = true;
	for (unsigned i = 0; i < NV; i++)
		same &= statuses[i] == 7;
	ok(same, "the end reached every vCPU with the first status (7)");
	ok(w.active == 0 && w.owner == -1 && !atomic_load(&w.stopping), "all left, nobody holds the world");
	world_destroy(&w);

	/* One vCPU alone: stopping the world costs nothing and waits for nobody. */
	world_init(&w, vcpus, 1, fake_kick);
	world_join(&w, &vcpus[0]);
	world_stop(&w, &vcpus[0]);
	ok(w.owner == 0 && world_checkin(&w, &vcpus[0]), "a lone vCPU holds the world and may go on");
	world_stop(&w, &vcpus[0]); /* nested: a crash dump inside an audit */
	world_resume(&w, &vcpus[0]);
	ok(w.owner == 0 && atomic_load(&w.stopping), "a nested stop and resume leave the world held");
	world_resume(&w, &vcpus[0]);
	ok(world_end(&w, &vcpus[0], 3) == 3 && world_end(&w, &vcpus[0], 4) == 3 && !world_checkin(&w, &vcpus[0]),
	   "the first end's status stays; after it checkin says stop");
	world_leave(&w, &vcpus[0]);
	world_destroy(&w);
	return tap_done();
}
