/* guest/kernel/exit.c — process exit, waitpid, kill: memory returned at exit, the slot when the parent reaps. */
#include "kernel.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

static void release_pins(struct proc *p)
{
	for (int i = 0; i < NPIN; i++)
		if (p->pinned[i]) {
			frame_unpin(p->pinned[i]);
			p->pinned[i] = 0;
		}
}

/* wstatus is a wait status: W_EXITCODE(code) or the killing signal. */
_Noreturn void do_exit(int wstatus)
{
	struct proc *p = curproc;
	struct proc *init = initproc();

	if (p->files) {
		fdtable_free(p->files);
		p->files = NULL;
	}
	release_pins(p);
	/* Leave our page tables before freeing them. */
	write_cr3(kernel_pml4_pa);
	mm_release(&p->mm);
	p->cr3 = 0;

	/* Orphans go to init, which reaps them. */
	for (int i = 0; i < NPROC; i++) {
		struct proc *q = &proctab[i];
		if (q->state != COWVMM_PSTATE_UNUSED && q->parent == p) {
			q->parent = init;
			q->ppid = 1;
			if (q->state == COWVMM_PSTATE_ZOMBIE && init)
				wakeup(init);
		}
	}
	p->xstatus = wstatus;
	p->state = COWVMM_PSTATE_ZOMBIE;
	checkpoint(COWVMM_CP_EXIT, p->pid, 0, 0, 0, 0, 0);

	if (p == init) {
		/* The run's result is init's: its exit code, or 128 + signal. */
		uint64_t st = WIFEXITED(wstatus) ? (uint64_t)WEXITSTATUS(wstatus) : 128u + (uint64_t)WTERMSIG(wstatus);
		kdebug("init exited with status %lu\n", st);
		hc_exit(st);
	}
	if (p->parent)
		wakeup(p->parent);
	schedule();
	panic("zombie %d scheduled", p->pid);
}

int do_waitpid(int pid, uint64_t ustatus, int options)
{
	struct proc *self = curproc;
	if (options & ~WNOHANG)
		return -EINVAL;
	for (;;) {
		int have = 0;
		for (int i = 0; i < NPROC; i++) {
			struct proc *q = &proctab[i];
			if (q->state == COWVMM_PSTATE_UNUSED || q->parent != self || (pid != -1 && q->pid != pid))
				continue;
			have = 1;
			if (q->state != COWVMM_PSTATE_ZOMBIE)
				continue;
			int st = q->xstatus, cpid = q->pid;
			if (ustatus && copy_to_user(ustatus, &st, sizeof(st)))
				return -EFAULT;
			proc_free(q);
			return cpid;
		}
		if (!have)
			return -ECHILD;
		if (options & WNOHANG)
			return 0;
		if (self->killed)
			return -EINTR;
		sleep_on(self);
	}
}

int do_kill(int pid, int sig)
{
	if (sig < 0 || sig >= NSIG)
		return -EINVAL;
	struct proc *p = proc_find(pid);
	if (!p || p->state == COWVMM_PSTATE_ZOMBIE || p->state == COWVMM_PSTATE_EMBRYO)
		return -ESRCH;
	if (sig == 0)
		return 0;
	if (sig != SIGKILL && p->sighand[sig] == 1) /* SIG_IGN */
		return 0;
	kill_proc(p, sig);
	return 0;
}
