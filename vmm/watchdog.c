/* vmm/watchdog.c — stop a guest that runs too long: POSIX timer + SIGALRM + immediate_exit on every vCPU. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/kvm.h>

#include "vmm.h"

/* The only mutable globals of the VMM: what the signal handler touches.  The
 * VM it points at outlives the timer (watchdog_stop() clears it first). */
static volatile sig_atomic_t fired;
static struct vm *volatile wd_vm;

/* The signal interrupts KVM_RUN (-EINTR).  If it lands between two KVM_RUNs,
 * immediate_exit makes the next one return -EINTR at once (KVM_CAP_IMMEDIATE_EXIT);
 * without that capability the timer keeps re-firing every 100 ms instead. */
static void on_alarm(int sig)
{
	(void)sig;
	fired = 1;
	struct vm *vm = wd_vm;
	if (vm)
		for (unsigned i = 0; i < vm->nvcpus; i++)
			if (vm->vcpus[i].run)
				vm->vcpus[i].run->immediate_exit = 1;
}

void watchdog_start(struct vm *vm)
{
	if (vm->timeout_s == 0)
		return;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return */
	sigaction(SIGALRM, &sa, NULL);
	wd_vm = vm->cap.immediate_exit ? vm : NULL;
	timer_t *t = malloc(sizeof *t);
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
	if (!t || timer_create(CLOCK_MONOTONIC, &sev, t) < 0) {
		perror("vmm: timer_create");
		exit(VMM_EXIT_NO_KVM);
	}
	struct itimerspec its = {
		.it_value = { .tv_sec = vm->timeout_s },
		.it_interval = { .tv_nsec = 100 * 1000 * 1000 },
	};
	timer_settime(*t, 0, &its, NULL);
	vm->wd_timer = t;
	vm->wd_armed = true;
}

bool watchdog_fired(void)
{
	return fired;
}

void watchdog_stop(struct vm *vm)
{
	if (vm->wd_armed) {
		timer_t *t = vm->wd_timer;
		timer_delete(*t);
		free(t);
	}
	vm->wd_timer = NULL;
	vm->wd_armed = false;
	wd_vm = NULL;
}
