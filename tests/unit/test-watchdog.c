/* tests/unit/test-watchdog.c — the watchdog thread without KVM: it kicks a blocked vCPU thread at the deadline, and ends a run whose VMM-side work overruns, with status 5 and where it was (TAP). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "vmm.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* A VM with one "vCPU" that is this thread, blocked in read() instead of
 * KVM_RUN: the kick (a signal to the thread) must get it out. */
static void test_kick(void)
{
	struct vm vm;
	memset(&vm, 0, sizeof vm);
	vm.timeout_s = 1;
	vm.nvcpus = 1;
	vm.vcpus[0] = (struct vcpu){ .vm = &vm, .fd = -1, .stats_fd = -1, .thread = pthread_self(),
				      .have_thread = true };
	int p[2];
	if (pipe(p)) {
		printf("Bail out! pipe\n");
		exit(1);
	}
	double t0 = now();
	watchdog_start(&vm);
	char c;
	ssize_t r = read(p[0], &c, 1); /* nobody writes: only a kick ends it */
	int e = errno;
	double dt = now() - t0;
	ok(r < 0 && e == EINTR && watchdog_fired(&vm), "the blocked vCPU thread was kicked out (EINTR)");
	ok(dt >= 0.9 && dt < 1.0 + WD_GRACE_S, "at the deadline: %.2f s for --timeout 1", dt);
	atomic_store(&vm.wd_handled, true);
	watchdog_stop(&vm);
	close(p[0]);
	close(p[1]);
}

/* VMM-side work still running WD_GRACE_S after the deadline: the process
 * ends with status 5 and names the work.  In a child: it is _exit()ed. */
static void test_overrun(void)
{
	int err[2];
	if (pipe(err)) {
		printf("Bail out! pipe\n");
		exit(1);
	}
	fflush(stdout);
	double t0 = now();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(err[1], 2);
		static struct vm vm;
		vm.timeout_s = 1;
		watchdog_start(&vm);
		vm_busy(&vm, "audit of a hostile guest (test)");
		for (int i = 0; i < 60; i++)
			sleep(1); /* "the audit": never done in time */
		_exit(0);
	}
	close(err[1]);
	char buf[512] = "";
	ssize_t n = 0, r;
	while (n < (ssize_t)sizeof buf - 1 && (r = read(err[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0)
		n += r;
	int st = 0;
	waitpid(pid, &st, 0);
	double dt = now() - t0;
	ok(WIFEXITED(st) && WEXITSTATUS(st) == VMM_EXIT_TIMEOUT, "an overrunning run ends with status 5");
	ok(dt >= 1.0 + WD_GRACE_S - 0.2 && dt < 1.0 + WD_GRACE_S + 5, "after the deadline and the grace: %.2f s", dt);
	ok(strstr(buf, "the VMM's own work (audit of a hostile guest (test)) still running"), "it says where it was: %s",
	   buf);
	close(err[0]);
}

/* A run that ends in time: no kick, no exit. */
static void test_in_time(void)
{
	struct vm vm;
	memset(&vm, 0, sizeof vm);
	vm.timeout_s = 1;
	watchdog_start(&vm);
	watchdog_stop(&vm);
	ok(!watchdog_fired(&vm), "stopped before the deadline: never fired");
}

int main(void)
{
	test_in_time();
	test_kick();
	test_overrun();
	return tap_done();
}
