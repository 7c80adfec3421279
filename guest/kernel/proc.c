/* guest/kernel/proc.c — the process table (read by the VMM), pids, and per-process kernel stacks. */
#include "kernel.h"
#include "mm.h"
#include "spinlock.h"
#include "proc.h"
#include "x86.h"

/* Slots, pids, states and parent links change under sched_lock (sched.c). */
struct proc proctab[NPROC];
static int32_t next_pid = 1;

struct proc *proc_find(int pid)
{
	if (pid <= 0)
		return NULL;
	for (int i = 0; i < NPROC; i++)
		if (proctab[i].pid == pid && proctab[i].state != COWVMM_PSTATE_UNUSED)
			return &proctab[i];
	return NULL;
}

struct proc *initproc(void)
{
	return proc_find(1);
}

void proc_set_name(struct proc *p, const char *name)
{
	strncpy_safe(p->name, name, sizeof(p->name));
}

static void kstack_release(struct proc *p)
{
	int slot = (int)(p - proctab);
	for (int i = 0; i < KSTACK_PAGES; i++) {
		if (!p->kstack_pa[i])
			continue;
		kstack_map(kstack_va(slot, i), 0);
		kpage_free(p->kstack_pa[i]);
		p->kstack_pa[i] = 0;
	}
}

/* Linux's dup_task_struct + alloc_pid: a slot, a kernel stack, a pid.  The
 * slot stays EMBRYO (the VMM does not audit it) until the caller is done. */
int proc_alloc(struct proc **out)
{
	struct proc *p = NULL;
	if (should_fail(COWVMM_SITE_TASK))
		return -ENOMEM;
	spin_lock_irq(&sched_lock);
	for (int i = 0; i < NPROC && !p; i++)
		if (proctab[i].state == COWVMM_PSTATE_UNUSED)
			p = &proctab[i];
	if (p) {
		memset(p, 0, sizeof(*p));
		p->pid = next_pid++;
		p->tgid = p->pid; /* before anyone (the VMM) can see the slot */
		/* fork and clone inherit the creator's CPUs (Linux's affinity) */
		p->cpus_allowed = curproc ? curproc->cpus_allowed : ~0ull;
		p->state = COWVMM_PSTATE_EMBRYO;
	}
	spin_unlock_irq(&sched_lock);
	if (!p)
		return -EAGAIN;
	int slot = (int)(p - proctab);
	for (int i = 0; i < KSTACK_PAGES; i++) {
		/* not zeroed: a stack needs no initial contents */
		uint64_t pa = kpage_alloc_nozero(COWVMM_SITE_KSTACK);
		if (!pa) {
			spin_lock_irq(&sched_lock);
			proc_free(p);
			spin_unlock_irq(&sched_lock);
			return -ENOMEM;
		}
		p->kstack_pa[i] = pa;
		kstack_map(kstack_va(slot, i), pa);
	}
	p->kstack = kstack_va(slot, 0);
	p->tf = (struct trapframe *)(p->kstack + KSTACK_SIZE - sizeof(struct trapframe));
	p->mm = &p->own_mm;
	p->leader = p;
	p->nthreads = 1; /* a process of one thread, until clone adds some */
	*out = p;
	return 0;
}

/* Reap (under sched_lock): everything else was released at exit (or never
 * taken).  The slot's kernel stack is unmapped here and only here; a CPU
 * that still caches its translation reloads CR3 before it can use the slot
 * again (sched.c). */
void proc_free(struct proc *p)
{
	KASSERT(spin_holding(&sched_lock));
	KASSERT(p != curproc);
	KASSERT(!p->own_mm.pml4 && !p->files);
	kstack_release(p);
	memset(p, 0, sizeof(*p));
	p->state = COWVMM_PSTATE_UNUSED;
}
