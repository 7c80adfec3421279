/* vmm/watchdog.c — bound the whole run: a thread that kicks every vCPU out of KVM_RUN when the time is up, and stops VMM-side work that overruns. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Past the deadline and the grace, the run is still not over: VMM-side work
 * a guest made long.  Say where it was and end the process: the only safe
 * way out of work on another thread (write(2) and _exit(2) only). */
static _Noreturn void overrun(struct vm *vm)
{
	const char *what = atomic_load(&vm->busy);
	char line[256];
	int n = snprintf(line, sizeof line,
			 "vmm: timeout: the VMM's own work (%s) still running %d s after --timeout %u s; "
			 "run stopped\n", what ? what : "ending the run", WD_GRACE_S, vm->timeout_s);
	if (n > 0 && write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
		n = 0; /* nothing more to do: we are leaving */
	_exit(VMM_EXIT_TIMEOUT);
}

/* Sleep until the deadline (or until told to quit), then kick every vCPU,
 * again every 100 ms (a vCPU may be between two KVM_RUNs at the first kick)
 * until one of them reports the timeout; WD_GRACE_S after the deadline a
 * run still going is stopped here. */
static void *watchdog_thread(void *arg)
{
	struct vm *vm = arg;
	struct timespec t, end;
	clock_gettime(CLOCK_MONOTONIC, &t);
	timespec_add_ns(&t, (long long)vm->timeout_s * 1000000000);
	end = t;
	timespec_add_ns(&end, (long long)WD_GRACE_S * 1000000000);
	pthread_mutex_lock(&vm->wd_lock);
	while (!vm->wd_quit) {
		if (pthread_cond_timedwait(&vm->wd_cond, &vm->wd_lock, &t) != ETIMEDOUT)
			continue;
		atomic_store(&vm->wd_fired, true);
		if (!atomic_load(&vm->wd_handled))
			for (unsigned i = 0; i < vm->nvcpus; i++)
				vcpu_kick(&vm->vcpus[i]);
		if (t.tv_sec > end.tv_sec || (t.tv_sec == end.tv_sec && t.tv_nsec >= end.tv_nsec))
			overrun(vm);
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
	atomic_init(&vm->wd_handled, false);
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
