/* vmm/world.c — stopping the world: one vCPU holds every other one out of KVM_RUN, parked, while it reads or changes guest state. */
#include <errno.h>
#include <time.h>

#include "vmm.h"
#include "world.h"

/* A kick can be lost in a narrow window (the vCPU clears immediate_exit
 * after our store, and enters KVM_RUN having read `stopping` before it was
 * set); a stopper that has waited this long kicks the stragglers again. */
#define REKICK_NS (10 * 1000 * 1000)

void world_init(struct world *w, struct vcpu *vcpus, unsigned nvcpus, void (*kick)(struct vcpu *v))
{
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->owner_cond, &ca);
	pthread_cond_init(&w->park_cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&w->stopping, false);
	atomic_init(&w->ended, false);
	w->owner = -1;
	w->depth = 0;
	w->active = 0;
	w->parked = 0;
	w->status = VMM_CONTINUE;
	w->kick = kick;
	w->vcpus = vcpus;
	w->nvcpus = nvcpus;
	w->stops = 0;
	atomic_init(&w->runner, -1);
	w->running = -1;
}

void world_destroy(struct world *w)
{
	pthread_cond_destroy(&w->owner_cond);
	pthread_cond_destroy(&w->park_cond);
	pthread_mutex_destroy(&w->lock);
}

/* Wait, parked (the owner counts us as stopped), until the world changes
 * hands.  Two condition variables: parked vCPUs waking each other on one
 * shared condition kept the owner's timed wait from ever timing out (seen:
 * test-world stuck on a lost kick that was never sent again). */
static void park(struct world *w)
{
	w->parked++;
	pthread_cond_signal(&w->owner_cond);
	pthread_cond_wait(&w->park_cond, &w->lock);
	w->parked--;
}

/* May v not run now?  The world is stopped by someone else, or the gate is
 * up and v does not have the turn, or has it but the vCPU it came from is
 * not back at its checkin yet (the world's owner always may go on: it holds
 * everything anyway). */
static bool must_park(struct world *w, struct vcpu *v)
{
	int r = atomic_load(&w->runner), id = (int)v->id;
	return !atomic_load(&w->ended) && w->owner != id &&
	       (atomic_load(&w->stopping) || (r >= 0 && (r != id || (w->running >= 0 && w->running != id))));
}

bool world_checkin(struct world *w, struct vcpu *v)
{
	if (!atomic_load(&w->stopping) && !atomic_load(&w->ended) && atomic_load(&w->runner) < 0)
		return true; /* the fast path: no lock between two KVM_RUNs */
	pthread_mutex_lock(&w->lock);
	if (w->running == (int)v->id) {
		w->running = -1; /* back at the gate: whoever has the turn may go */
		pthread_cond_broadcast(&w->park_cond);
	}
	while (must_park(w, v))
		park(w);
	bool go = !atomic_load(&w->ended);
	if (go && atomic_load(&w->runner) == (int)v->id)
		w->running = (int)v->id;
	pthread_mutex_unlock(&w->lock);
	return go;
}

static void kick_others(struct world *w, struct vcpu *v)
{
	for (unsigned i = 0; i < w->nvcpus; i++)
		if (&w->vcpus[i] != v)
			w->kick(&w->vcpus[i]);
}

void world_stop(struct world *w, struct vcpu *v)
{
	pthread_mutex_lock(&w->lock);
	/* Someone else holds the world: we are out of KVM_RUN, so we count as
	 * parked for them, and take our turn when they resume or leave -- even
	 * once the run has ended: two owners would each wait for the other to
	 * park (seen: test-world under load, stuck). */
	while (w->owner >= 0 && w->owner != (int)v->id)
		park(w);
	/* Nested: a handler that already holds the world (an audit) may stop
	 * it again (a crash dump of every vCPU); only the outer resume lets
	 * the others go. */
	if (w->owner == (int)v->id) {
		w->depth++;
		pthread_mutex_unlock(&w->lock);
		return;
	}
	w->owner = (int)v->id;
	w->depth = 1;
	atomic_store(&w->stopping, true);
	w->stops++;
	kick_others(w, v);
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	while (w->parked + 1 < w->active) {
		t.tv_nsec += REKICK_NS;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		/* Kick again every REKICK_NS, however often we are woken meanwhile. */
		while (w->parked + 1 < w->active &&
		       pthread_cond_timedwait(&w->owner_cond, &w->lock, &t) != ETIMEDOUT)
			;
		if (w->parked + 1 < w->active)
			kick_others(w, v);
	}
	pthread_mutex_unlock(&w->lock);
}

void world_resume(struct world *w, struct vcpu *v)
{
	pthread_mutex_lock(&w->lock);
	if (w->owner == (int)v->id && --w->depth == 0) {
		w->owner = -1;
		atomic_store(&w->stopping, false);
		pthread_cond_broadcast(&w->park_cond);
	}
	pthread_mutex_unlock(&w->lock);
}

int world_end(struct world *w, struct vcpu *v, int status)
{
	pthread_mutex_lock(&w->lock);
	if (!atomic_load(&w->ended)) {
		w->status = status;
		atomic_store(&w->ended, true);
	}
	int st = w->status;
	kick_others(w, v);
	pthread_cond_broadcast(&w->park_cond);
	pthread_cond_broadcast(&w->owner_cond);
	pthread_mutex_unlock(&w->lock);
	return st;
}

void world_leave(struct world *w, struct vcpu *v)
{
	pthread_mutex_lock(&w->lock);
	w->active--;
	if (w->running == (int)v->id) {
		w->running = -1;
		pthread_cond_broadcast(&w->park_cond);
	}
	if (w->owner == (int)v->id) {
		w->owner = -1;
		w->depth = 0;
		atomic_store(&w->stopping, false);
		pthread_cond_broadcast(&w->park_cond);
	}
	pthread_cond_broadcast(&w->owner_cond);
	pthread_mutex_unlock(&w->lock);
}

void world_drain(struct world *w)
{
	pthread_mutex_lock(&w->lock);
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	while (w->active > 0) {
		t.tv_nsec += REKICK_NS;
		if (t.tv_nsec >= 1000000000) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000;
		}
		while (w->active > 0 && pthread_cond_timedwait(&w->owner_cond, &w->lock, &t) != ETIMEDOUT)
			;
		/* A vCPU that missed the end's kick (halted in KVM, say) would
		 * never come out: kick everyone again. */
		for (unsigned i = 0; w->active > 0 && i < w->nvcpus; i++)
			w->kick(&w->vcpus[i]);
	}
	pthread_mutex_unlock(&w->lock);
}

void world_join(struct world *w, struct vcpu *v)
{
	(void)v;
	pthread_mutex_lock(&w->lock);
	w->active++;
	pthread_cond_broadcast(&w->owner_cond);
	pthread_mutex_unlock(&w->lock);
}

void world_set_runner(struct world *w, int id)
{
	pthread_mutex_lock(&w->lock);
	atomic_store(&w->runner, id);
	pthread_cond_broadcast(&w->park_cond);
	pthread_mutex_unlock(&w->lock);
}
