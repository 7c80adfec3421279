/* guest/kernel/exit.c — thread and process exit, waitpid, kill: memory returned when the last thread exits, the slot when the parent reaps. */
#include "kernel.h"
#include "mm.h"
#include "proc.h"
#include "spinlock.h"
#include "x86.h"

static void release_pins(struct proc *p)
{
	for (int i = 0; i < NPIN; i++)
		if (p->pinned[i]) {
			frame_unpin(p->pinned[i]);
			p->pinned[i] = 0;
		}
}

/* Under sched_lock: every other live thread of the group is to die. */
static void kill_group_locked(struct proc *leader, int sig)
{
	for (int i = 0; i < NPROC; i++) {
		struct proc *q = &proctab[i];
		if (q->leader == leader && q != curproc && q->state != COWVMM_PSTATE_UNUSED &&
		    q->state != COWVMM_PSTATE_ZOMBIE && q->state != COWVMM_PSTATE_EMBRYO)
			kill_proc_locked(q, sig);
	}
}

/*
 * Every thread leaves through here.  The last thread of a group releases the
 * group's memory and files and makes the leader a zombie for the parent to
 * reap, with the group's status (exit_group's, or this thread's own when it
 * simply was the last one).  Any other thread frees its own slot: the
 * scheduler does that once it is off its CPU (sched_finish).
 */
_Noreturn static void exit_thread(int wstatus)
{
	struct proc *p = curproc, *leader = p->leader;
	struct proc *init = initproc();

	release_pins(p);
	/*
	 * One critical section (mm->lock), for the VMM's audit as much as for
	 * the other threads: this CPU leaves the group's tables and this thread
	 * drops its cr3 together (a RUNNING thread with a cr3 is loaded on some
	 * CPU), and the last thread frees the tables together with the last cr3
	 * that names them (the books never count PTEs nobody can see).  Leaving
	 * comes BEFORE counting ourselves out: the thread that finds itself last
	 * frees the tables, and no CPU may still be on them then.
	 */
	struct mm *mm = leader->mm;
	sched_point(COWVMM_SP_EXIT, 0);
	spin_lock(&mm->lock);
	switch_mm(mycpu(), NULL);
	p->cr3 = 0;
	spin_lock_irq(&sched_lock);
	int last = --leader->nthreads == 0;
	int status = leader->group_exit ? leader->group_status : wstatus;
	spin_unlock_irq(&sched_lock);
	if (last) {
		mm_release(mm);
		leader->cr3 = 0;
	}
	spin_unlock(&mm->lock);
	if (last) {
		if (leader->files) {
			fdtable_free(leader->files);
			leader->files = NULL;
		}
		checkpoint(COWVMM_CP_EXIT, p->pid, 0, 0, 0, 0, 0);
		if (leader == init) {
			/* The run's result is init's: its exit code, or 128 + signal. */
			uint64_t st = WIFEXITED(status) ? (uint64_t)WEXITSTATUS(status) : 128u + (uint64_t)WTERMSIG(status);
			kdebug("init exited with status %lu\n", st);
			hc_exit(st);
		}
	}
	if (p != leader)
		p->files = NULL; /* the group's, freed by the last thread */

	spin_lock_irq(&sched_lock);
	if (last) {
		/* Orphans go to init, which reaps them. */
		for (int i = 0; i < NPROC; i++) {
			struct proc *q = &proctab[i];
			if (q->state != COWVMM_PSTATE_UNUSED && q->parent == leader) {
				q->parent = init;
				q->ppid = 1;
				if (q->state == COWVMM_PSTATE_ZOMBIE && q->leader == q && init)
					wakeup_locked(init);
			}
		}
		leader->xstatus = status;
		/* Only now: the last thread has stopped using the leader's slot
		 * (its own_mm is the group's), so the parent may free it. */
		leader->group_done = 1;
	}
	p->state = COWVMM_PSTATE_ZOMBIE;
	p->self_reap = p != leader;
	/* The parent may reap once both are true: the group is done and the
	 * leader is a zombie.  The leader and the last thread may be two
	 * threads exiting at once; whichever comes here second wakes it. */
	if (leader->group_done && leader->state == COWVMM_PSTATE_ZOMBIE && leader->parent)
		wakeup_locked(leader->parent);
	sched();
	panic("zombie %d scheduled", p->pid);
}

/* wstatus is a wait status: W_EXITCODE(code) or the killing signal.  The
 * whole process ends (Linux's exit_group): the first status wins. */
_Noreturn void do_exit(int wstatus)
{
	struct proc *leader = curproc->leader;
	spin_lock_irq(&sched_lock);
	if (!leader->group_exit) {
		leader->group_exit = 1;
		leader->group_status = wstatus;
	}
	kill_group_locked(leader, SIGKILL);
	spin_unlock_irq(&sched_lock);
	exit_thread(wstatus);
}

/* This thread only; the last one ends the process with this status. */
_Noreturn void do_thread_exit(int wstatus)
{
	exit_thread(wstatus);
}

/* The scheduler, under sched_lock, once p is off its CPU: an exited thread
 * that is not its group's leader has nobody to reap it but itself. */
void sched_finish(struct proc *p)
{
	if (p->self_reap && p->state == COWVMM_PSTATE_ZOMBIE)
		proc_free(p);
}

int do_waitpid(int pid, uint64_t ustatus, int options)
{
	struct proc *self = curproc->leader;
	if (options & ~WNOHANG)
		return -EINVAL;
	spin_lock_irq(&sched_lock);
	for (;;) {
		int have = 0;
		struct proc *found = NULL;
		for (int i = 0; i < NPROC && !found; i++) {
			struct proc *q = &proctab[i];
			if (q->state == COWVMM_PSTATE_UNUSED || q->parent != self || q->leader != q ||
			    (pid != -1 && q->pid != pid))
				continue;
			have = 1;
			/* a zombie leader whose threads still run (or whose last
			 * thread is still releasing the group's memory) is not done */
			if (q->state == COWVMM_PSTATE_ZOMBIE && q->group_done && !q->reaping)
				found = q;
		}
		if (found) {
			/* Claimed under the lock; the status goes out without it (the
			 * copy may fault), and the slot is freed only if it got there. */
			found->reaping = 1;
			int st = found->xstatus, cpid = found->pid;
			spin_unlock_irq(&sched_lock);
			int bad = ustatus && copy_to_user(ustatus, &st, sizeof(st));
			spin_lock_irq(&sched_lock);
			if (bad)
				found->reaping = 0;
			else
				proc_free(found);
			spin_unlock_irq(&sched_lock);
			return bad ? -EFAULT : cpid;
		}
		if (!have || (options & WNOHANG) || curproc->killed) {
			spin_unlock_irq(&sched_lock);
			return !have ? -ECHILD : (options & WNOHANG) ? 0 : -EINTR;
		}
		sleep_on(self, &sched_lock);
	}
}

int do_kill(int pid, int sig)
{
	if (sig < 0 || sig >= NSIG)
		return -EINVAL;
	spin_lock_irq(&sched_lock);
	struct proc *p = proc_find(pid);
	if (p)
		p = p->leader; /* a signal goes to the whole process */
	int r = 0;
	if (!p || p->state == COWVMM_PSTATE_EMBRYO || (p->state == COWVMM_PSTATE_ZOMBIE && !p->nthreads))
		r = -ESRCH;
	else if (sig && !(sig != SIGKILL && p->sighand[sig] == 1)) { /* not SIG_IGN */
		if (p->state != COWVMM_PSTATE_ZOMBIE)
			kill_proc_locked(p, sig);
		for (int i = 0; i < NPROC; i++) {
			struct proc *q = &proctab[i];
			if (q->leader == p && q != p && q->state != COWVMM_PSTATE_UNUSED &&
			    q->state != COWVMM_PSTATE_ZOMBIE && q->state != COWVMM_PSTATE_EMBRYO)
				kill_proc_locked(q, sig);
		}
	}
	spin_unlock_irq(&sched_lock);
	return r;
}
