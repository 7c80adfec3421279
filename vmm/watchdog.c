/* vmm/watchdog.c — stop a guest that runs too long: a thread that, when the time is up, kicks every vCPU out of KVM_RUN. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/kvm.h>

#include "vmm.h"

/* The kick's signal: it only has to interrupt KVM_RUN (-EINTR), so its
 * handler does nothing; installed without SA_RESTART. */
#define VMM_SIG_KICK SIGUSR1

static void on_kick(int sig)
{
	(void)sig;
}

void vcpu_kick(struct vcpu *v)
{
	/* immediate_exit covers a kick that lands between two KVM_RUNs
	 * (KVM_CAP_IMMEDIATE_EXIT); without it the watchdog and stoppers kick
	 * again until the vCPU is out. */
	if (v->run && v->vm->cap.immediate_exit)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->have_thread)
		pthread_kill(v->thread, VMM_SIG_KICK);
}

static void timespec_add_ns(struct timespec *t, long long ns)
{
	t->tv_sec += ns / 1000000000;
	t->tv_nsec += ns % 1000000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

/* Sleep until the deadline (or until told to quit), then kick every vCPU,
 * again every 100 ms: a vCPU may be between two KVM_RUNs at the first kick. */
static void *watchdog_thread(void *arg)
{
	struct vm *vm = arg;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	timespec_add_ns(&t, (long long)vm->timeout_s * 1000000000);
	pthread_mutex_lock(&vm->wd_lock);
	while (!vm->wd_quit) {
		if (pthread_cond_timedwait(&vm->wd_cond, &vm->wd_lock, &t) != ETIMEDOUT)
			continue;
		atomic_store(&vm->wd_fired, true);
		for (unsigned i = 0; i < vm->nvcpus; i++)
			vcpu_kick(&vm->vcpus[i]);
		timespec_add_ns(&t, 100 * 1000 * 1000);
	}
	pthread_mutex_unlock(&vm->wd_lock);
	return NULL;
}

void watchdog_start(struct vm *vm)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_kick;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return */
	sigaction(VMM_SIG_KICK, &sa, NULL);
	atomic_init(&vm->wd_fired, false);
	if (vm->timeout_s == 0)
		return;
	pthread_mutex_init(&vm->wd_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->wd_cond, &ca);
	pthread_condattr_destroy(&ca);
	vm->wd_quit = false;
	/* The watchdog thread never runs a vCPU: the kick signal is for vCPUs. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, VMM_SIG_KICK);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int r = pthread_create(&vm->wd_thread, NULL, watchdog_thread, vm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		fprintf(stderr, "vmm: cannot start the watchdog thread: %s\n", strerror(r));
		exit(VMM_EXIT_NO_KVM);
	}
	vm->wd_armed = true;
}

bool watchdog_fired(const struct vm *vm)
{
	return atomic_load(&vm->wd_fired);
}

void watchdog_stop(struct vm *vm)
{
	if (!vm->wd_armed)
		return;
	pthread_mutex_lock(&vm->wd_lock);
	vm->wd_quit = true;
	pthread_cond_signal(&vm->wd_cond);
	pthread_mutex_unlock(&vm->wd_lock);
	pthread_join(vm->wd_thread, NULL);
	pthread_cond_destroy(&vm->wd_cond);
	pthread_mutex_destroy(&vm->wd_lock);
	vm->wd_armed = false;
}
