/* vmm/world.h — several vCPU threads, and stopping the world: every other vCPU out of KVM_RUN and parked while one of them works on guest memory. */
#ifndef COWVMM_WORLD_H
#define COWVMM_WORLD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct vcpu;

/*
 * Protocol (the lock order is world.lock alone: nothing else is taken while
 * holding it, and it is never held across KVM_RUN or a handler):
 *  - every vCPU thread calls world_checkin() before each KVM_RUN.  Unless the
 *    world is stopped or the run has ended it returns at once (two atomic
 *    loads, no lock); otherwise it parks until the world is resumed, or
 *    returns false when the run is over;
 *  - world_stop(v): v (a vCPU between two KVM_RUNs, in a handler) becomes the
 *    owner: it sets `stopping`, kicks every other vCPU (the kick makes KVM_RUN
 *    return soon: immediate_exit + a signal to its thread), and waits until
 *    each one is parked or gone.  Then nothing runs guest code but nothing
 *    either: guest memory and every other vCPU's registers hold still.  If
 *    another vCPU owns the world already, v parks first (it is not running
 *    either) and takes its turn after;
 *  - world_resume(v) releases the others (after as many resumes as stops:
 *    an owner may stop the world again, e.g. to dump every vCPU);
 *  - world_end(v, status): the run is over (the first status wins); everyone
 *    is kicked and every loop returns; world_leave() when a thread's loop has
 *    returned, so stoppers stop waiting for it;
 *  - the runner (--explore): world_set_runner(w, id) lets only vCPU `id` run
 *    guest code; every other one parks in world_checkin() (and counts as
 *    parked for a stopper) until it is made the runner, the gate is lifted
 *    (id -1, the default) or the run ends.  The turn passes only when the
 *    vCPU that had it is back at its checkin: never two in the guest, even
 *    when the turn is taken from a vCPU inside KVM_RUN (the caller kicks it
 *    out).  Gate before the vCPUs run: a vCPU already inside KVM_RUN when
 *    the first gate goes up is not waited for.
 */
struct world {
	pthread_mutex_t lock;
	pthread_cond_t owner_cond;  /* the owner waits here for vCPUs to park or leave */
	pthread_cond_t park_cond;   /* parked vCPUs wait here for the world to change hands */
	atomic_bool stopping;       /* a vCPU wants the world stopped */
	atomic_bool ended;          /* the run is over */
	int owner;                  /* id of the vCPU holding the world, -1 none */
	unsigned depth;             /* the owner's nested world_stop() calls */
	unsigned active;            /* vCPU threads joined and still in their loops */
	unsigned parked;            /* ... of which parked */
	int status;                 /* the run's status, set by world_end() */
	void (*kick)(struct vcpu *v); /* get v out of KVM_RUN soon */
	struct vcpu *vcpus;         /* the VM's vCPUs (array): all are kicked */
	unsigned nvcpus;
	unsigned long stops;        /* times the world was stopped (for tests and reports) */
	atomic_int runner;          /* the only vCPU that may run guest code, -1 = any */
	int running;                /* gated: the vCPU past its checkin (in the guest or an exit), -1 none */
};

/* The VM's `nvcpus` vCPUs in vcpus[], none taking part yet: every vCPU
 * thread joins (world_join()) before its first checkin; a stopper kicks all
 * of them, whenever they joined. */
void world_init(struct world *w, struct vcpu *vcpus, unsigned nvcpus, void (*kick)(struct vcpu *v));
void world_destroy(struct world *w);
bool world_checkin(struct world *w, struct vcpu *v);
void world_stop(struct world *w, struct vcpu *v);
void world_resume(struct world *w, struct vcpu *v);
/* Returns the run's status: `status` if this call ended it, else the
 * status of the end that came first. */
int world_end(struct world *w, struct vcpu *v, int status);
void world_leave(struct world *w, struct vcpu *v);
/* After the end: wait until every vCPU thread has left, kicking them again
 * every few ms (a kick can be lost; a halted vCPU would never see the end). */
void world_drain(struct world *w);
/* A vCPU thread starts taking part (a CPU the guest started). */
void world_join(struct world *w, struct vcpu *v);
/* Only vCPU `id` may run from now on (-1: any); parked vCPUs recheck. */
void world_set_runner(struct world *w, int id);

#endif /* COWVMM_WORLD_H */
