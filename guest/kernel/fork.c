/* guest/kernel/fork.c — fork() as Linux's copy_process: share memory copy-on-write, copy fds and signal handlers, undo everything on failure. */
#include "kernel.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

/* copy_files: a new descriptor table, one more reference on each open file. */
static int copy_files(struct proc *child, struct proc *parent)
{
	child->files = fdtable_alloc();
	if (!child->files)
		return -ENOMEM;
	for (int fd = 0; fd < NOFILE; fd++)
		if (parent->files->fd[fd])
			child->files->fd[fd] = file_dup(parent->files->fd[fd]);
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

int do_fork(void)
{
	struct proc *parent = curproc, *child;
	int r = proc_alloc(&child);
	if (r) {
		if (r == -ENOMEM)
			stats.fork_failures++;
		return r;
	}
	r = copy_mm(&child->mm, &parent->mm);
	/* copy_mm write-protected the parent's PTEs (even if it then failed):
	 * writable entries may still sit in the TLB, so flush them -- once,
	 * whatever the number of pages -- before the parent runs user code. */
	flush_tlb();
	if (!r)
		r = copy_files(child, parent);
	if (r) {
		mm_release(&child->mm);
		if (child->files) {
			fdtable_free(child->files);
			child->files = NULL;
		}
		proc_free(child);
		stats.fork_failures++;
		return -ENOMEM;
	}
	memcpy(child->sighand, parent->sighand, sizeof(child->sighand)); /* copy_sighand */
	copy_thread(child, parent);
	child->parent = parent;
	child->ppid = parent->pid;
	child->cr3 = child->mm.pml4;
	proc_set_name(child, parent->name);
	/* Complete: only now may the scheduler (and the VMM's audit) see it. */
	child->state = COWVMM_PSTATE_RUNNABLE;
	stats.forks++;
	checkpoint(COWVMM_CP_FORK, parent->pid, child->pid, 0, 0, 0, 0);
	return child->pid;
}
