/* guest/kernel/sysproc.c — process system calls: exit, fork, wait, pids, signals, exec, checkpoints, fault injection. */
#include "kernel.h"
#include "proc.h"
#include "spinlock.h"
#include "syscalls.h"

SYSCALL(exit)
{
	UNUSED_ARGS();
	do_exit(W_EXITCODE((int)a0));
}

SYSCALL(fork)
{
	UNUSED_ARGS();
	return do_fork();
}

SYSCALL(waitpid)
{
	UNUSED_ARGS();
	return do_waitpid((int)a0, a1, (int)a2);
}

SYSCALL(getpid)
{
	UNUSED_ARGS();
	return curproc->tgid; /* the process's id, whichever thread asks */
}

SYSCALL(gettid)
{
	UNUSED_ARGS();
	return curproc->pid;
}

SYSCALL(cpuid)
{
	UNUSED_ARGS();
	return mycpu()->id;
}

SYSCALL(setaffinity)
{
	UNUSED_ARGS();
	return sched_setaffinity((int)a0, a1);
}

SYSCALL(clone)
{
	UNUSED_ARGS();
	return do_clone(a0, a1, a2);
}

SYSCALL(thread_exit)
{
	UNUSED_ARGS();
	do_thread_exit(W_EXITCODE((int)a0));
}

SYSCALL(getppid)
{
	UNUSED_ARGS();
	return curproc->ppid;
}

SYSCALL(yield)
{
	UNUSED_ARGS();
	yield_cpu();
	return 0;
}

/* Handlers: 0 = default (terminate), 1 = ignore.  Other values are stored
 * (and copied by fork) but delivery treats them as the default action. */
SYSCALL(sigaction)
{
	UNUSED_ARGS();
	int sig = (int)a0;
	if (sig <= 0 || sig >= NSIG || sig == SIGKILL)
		return -EINVAL;
	if (a2 && copy_to_user(a2, &curproc->sighand[sig], sizeof(uint64_t)))
		return -EFAULT;
	curproc->sighand[sig] = a1;
	return 0;
}

SYSCALL(kill)
{
	UNUSED_ARGS();
	return do_kill((int)a0, (int)a1);
}

/* Arguments are gathered into kernel memory first: the old address space
 * disappears when the new one is committed. */
/* The buffers are static (too big for a kernel stack): one exec at a time. */
static struct spinlock exec_lock = SPINLOCK_INIT("exec");

static long do_exec(uint64_t a0, uint64_t a1);

SYSCALL(exec)
{
	UNUSED_ARGS();
	spin_lock(&exec_lock);
	long r = do_exec(a0, a1);
	spin_unlock(&exec_lock);
	return r;
}

static long do_exec(uint64_t a0, uint64_t a1)
{
	static char name[64], strings[4096];
	static char *argv[33];
	int r = strncpy_from_user(name, a0, sizeof(name));
	if (r < 0)
		return r == -EINVAL ? -ENOENT : r;
	int argc = 0;
	uint64_t used = 0;
	if (a1) {
		for (;; argc++) {
			uint64_t up;
			if (copy_from_user(&up, a1 + 8 * (uint64_t)argc, 8))
				return -EFAULT;
			if (!up)
				break;
			if (argc == 32)
				return -E2BIG;
			r = strncpy_from_user(strings + used, up, sizeof(strings) - used);
			if (r < 0)
				return r == -EINVAL ? -E2BIG : r;
			argv[argc] = strings + used;
			used += (uint64_t)r + 1;
		}
	}
	if (!argc)
		argv[argc++] = name;
	argv[argc] = NULL;
	return exec_program(curproc, name, argc, argv);
}

SYSCALL(checkpoint)
{
	UNUSED_ARGS();
	return checkpoint(COWVMM_CP_USER, curproc->pid, 0, (uint32_t)a0, 0, 0, 0);
}

SYSCALL(failnth)
{
	UNUSED_ARGS();
	return inject_arm((int)a0, (int)a1, a2);
}
