/* guest/kernel/fork.c — fork() as Linux's copy_process: share memory copy-on-write, copy fds and signal handlers, undo everything on failure; clone() of a thread. */
#include "kernel.h"
#include "cpu.h"
#include "mm.h"
#include "proc.h"
#include "spinlock.h"
#include "x86.h"

/* copy_files: a new descriptor table, one more reference on each open file. */
static int copy_files(struct proc *child, struct proc *parent)
{
	child->files = fdtable_alloc();
	if (!child->files)
		return -ENOMEM;
	fdtable_copy(child->files, parent->files);
	return 0;
}

/* The child resumes in forkret -> trapret with the parent's user registers,
 * except RAX = 0: it returns 0 from the same fork() system call. */
static void copy_thread(struct proc *child, struct proc *parent)
{
	*child->tf = *parent->tf;
	child->tf->rax = 0;
	struct context *ctx = (struct context *)((uint64_t)child->tf - sizeof(*ctx));
	memset(ctx, 0, sizeof(*ctx));
	ctx->rip = (uint64_t)forkret;
	child->ctx = ctx;
	/* The parent's FPU/SSE state is live in the CPU, not in its proc. */
	fxsave(child->fxstate);
}

/* A new process: one thread, whatever the caller's group has (as Linux). */
int do_fork(void)
{
	struct proc *parent = curproc, *child;
	int r = proc_alloc(&child);
	if (r) {
		if (r == -ENOMEM)
			STAT_INC(fork_failures);
		return r;
	}
	/* From the child's first reference to its becoming visible (RUNNABLE),
	 * the books count PTEs the VMM cannot see yet: no audit in between.
	 * Audited with several CPUs the whole fork runs inside a closed audit
	 * gate (spinlock.c): its checkpoint must see parent and child as fork
	 * left them, before a sibling thread's write breaks a COW page. */
	int gate = checkpoints_wanted && ncpus > 1;
	if (gate)
		audit_gate_close();
	audit_hold();
	/* copy_mm write-protects the parent's PTEs (even if it then fails):
	 * writable entries may still sit in the TLB of every CPU running one of
	 * the parent's threads, so flush them there -- one round, whatever the
	 * number of pages -- before the lock goes and any of them writes again
	 * (a sibling thread's write through a stale writable entry would land in
	 * the frame the child now shares: Linux 6.4's fork corruption). */
	struct mm *pm = parent->mm;
	spin_lock(&pm->lock);
	r = copy_mm(&child->own_mm, pm);
	if (!kbug(KBUG_FORK_NO_FLUSH))
		tlb_flush_mm_all(pm);
	else
		flush_tlb(); /* the bug kernel: this CPU only */
	spin_unlock(&pm->lock);
	sched_point(COWVMM_SP_FORK, 0);
	if (!r)
		r = copy_files(child, parent);
	if (r) {
		spin_lock(&child->own_mm.lock);
		mm_release(&child->own_mm);
		spin_unlock(&child->own_mm.lock);
		if (child->files) {
			fdtable_free(child->files);
			child->files = NULL;
		}
		spin_lock_irq(&sched_lock);
		proc_free(child);
		spin_unlock_irq(&sched_lock);
		audit_release();
		if (gate)
			audit_gate_open();
		STAT_INC(fork_failures);
		return -ENOMEM;
	}
	memcpy(child->sighand, parent->sighand, sizeof(child->sighand)); /* copy_sighand */
	copy_thread(child, parent);
	child->parent = parent->leader;
	child->ppid = parent->tgid;
	child->cr3 = child->own_mm.pml4;
	proc_set_name(child, parent->name);
	int pid = child->pid;
	/* Complete: only now may the scheduler (and the VMM's audit) see it. */
	make_runnable(child);
	audit_release();
	STAT_INC(forks);
	checkpoint(COWVMM_CP_FORK, parent->pid, pid, 0, 0, 0, 0);
	if (gate)
		audit_gate_open();
	return pid;
}

/*
 * A new thread of the caller's process (Linux's clone with CLONE_VM |
 * CLONE_FILES | CLONE_THREAD): the same mm and fd table, its own kernel
 * stack and registers.  It starts at `entry` on user stack `ustack` with
 * RDI = arg (guest/user/ulib.c's thread_create arranges a return into
 * thread_exit).  Signal handlers are copied, not shared: a minimal kernel's
 * simplification (doc: README's threads section).
 */
int do_clone(uint64_t ustack, uint64_t entry, uint64_t arg)
{
	struct proc *self = curproc, *leader = self->leader, *t;
	if (entry >= USER_TOP || ustack > USER_TOP || (ustack & 7))
		return -EINVAL;
	int r = proc_alloc(&t);
	if (r)
		return r;
	*t->tf = *self->tf;
	t->tf->rip = entry;
	t->tf->rsp = ustack;
	t->tf->rdi = arg;
	t->tf->rax = 0;
	struct context *ctx = (struct context *)((uint64_t)t->tf - sizeof(*ctx));
	memset(ctx, 0, sizeof(*ctx));
	ctx->rip = (uint64_t)forkret;
	t->ctx = ctx;
	fxsave(t->fxstate);
	memcpy(t->sighand, self->sighand, sizeof(t->sighand));
	t->leader = leader;
	t->tgid = leader->pid;
	t->mm = leader->mm;
	t->files = leader->files;
	t->parent = leader->parent;
	t->ppid = leader->ppid;
	t->cr3 = leader->mm->pml4;
	proc_set_name(t, self->name);
	int tid = t->pid;
	spin_lock_irq(&sched_lock);
	if (leader->group_exit || self->killed) {
		/* exiting already: no new thread may join (Linux: -EINTR-like) */
		t->files = NULL;
		t->mm = &t->own_mm;
		proc_free(t);
		spin_unlock_irq(&sched_lock);
		return -EINTR;
	}
	leader->nthreads++;
	spin_unlock_irq(&sched_lock);
	STAT_INC(threads);
	make_runnable(t);
	return tid;
}
