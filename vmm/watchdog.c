/* vmm/watchdog.c — stop a guest that runs too long: POSIX timer + SIGALRM + immediate_exit. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/kvm.h>

#include "vmm.h"

static volatile sig_atomic_t fired;
static struct kvm_run *volatile wd_run;
static timer_t timer;
static bool armed;

/* The signal interrupts KVM_RUN (-EINTR).  If it lands between two KVM_RUNs,
 * immediate_exit makes the next one return -EINTR at once (KVM_CAP_IMMEDIATE_EXIT);
 * without that capability the timer keeps re-firing every 100 ms instead. */
static void on_alarm(int sig)
{
	(void)sig;
	fired = 1;
	if (wd_run)
		wd_run->immediate_exit = 1;
}

void watchdog_start(struct vm *vm, unsigned secs)
{
	if (secs == 0)
		return;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: KVM_RUN must return */
	sigaction(SIGALRM, &sa, NULL);
	wd_run = vm->cap.immediate_exit ? vm->run : NULL;
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0) {
		perror("vmm: timer_create");
		exit(VMM_EXIT_NO_KVM);
	}
	struct itimerspec its = {
		.it_value = { .tv_sec = secs },
		.it_interval = { .tv_nsec = 100 * 1000 * 1000 },
	};
	timer_settime(timer, 0, &its, NULL);
	armed = true;
}

bool watchdog_fired(void)
{
	return fired;
}

void watchdog_stop(void)
{
	if (armed)
		timer_delete(timer);
	armed = false;
	wd_run = NULL;
}
