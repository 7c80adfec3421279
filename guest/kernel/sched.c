/* guest/kernel/sched.c — round-robin scheduling without a timer: processes run until they block, yield or exit. */
#include "kernel.h"
#include "cowvmm/names.h"
#include "cpu.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

struct proc *curproc;
uint64_t cpu_kstack_top;
uint8_t fx_default[512] __attribute__((aligned(16)));

static void switch_to(struct proc *next)
{
	struct proc *prev = curproc;
	next->state = COWVMM_PSTATE_RUNNING;
	if (next == prev)
		return;
	curproc = next;
	/* The CPU takes traps from user mode on TSS.rsp0; `syscall` on ours.
	 * Processes run on CPU 0 only, for now (the others idle: smp.c). */
	cpu_kstack_top = next->kstack + KSTACK_SIZE;
	tss_set_rsp0(&cpus[0], cpu_kstack_top);
	write_cr3(next->mm.pml4 ? next->mm.pml4 : kernel_pml4_pa);
	/* The kernel never touches FPU/SSE, so this is the user's state. */
	fxsave(prev->fxstate);
	fxrstor(next->fxstate);
	swtch(&prev->ctx, next->ctx);
}

static void dump_procs(void)
{
	for (int i = 0; i < NPROC; i++) {
		struct proc *p = &proctab[i];
		if (p->state != COWVMM_PSTATE_UNUSED)
			kprintf("  pid %d ppid %d %s %s\n", p->pid, p->ppid, cowvmm_pstate_name(p->state), p->name);
	}
}

/* Pick the next runnable process after the current one (round robin). */
void schedule(void)
{
	int start = curproc ? (int)(curproc - proctab) : NPROC - 1;
	for (int k = 1; k <= NPROC; k++) {
		struct proc *p = &proctab[(start + k) % NPROC];
		if (p->state == COWVMM_PSTATE_RUNNABLE) {
			switch_to(p);
			return;
		}
	}
	/* No timer and no devices: if nobody can run, nobody ever will. */
	dump_procs();
	panic("deadlock: every process is blocked");
}

_Noreturn void scheduler_start(struct proc *first)
{
	static struct proc boot_task; /* holds the boot stack's context, never resumed */
	curproc = &boot_task;
	switch_to(first);
	panic("boot task resumed");
}

void sleep_on(void *chan)
{
	curproc->chan = chan;
	curproc->state = COWVMM_PSTATE_SLEEPING;
	schedule();
	curproc->chan = NULL;
}

void wakeup(void *chan)
{
	for (int i = 0; i < NPROC; i++)
		if (proctab[i].state == COWVMM_PSTATE_SLEEPING && proctab[i].chan == chan)
			proctab[i].state = COWVMM_PSTATE_RUNNABLE;
}

void yield_cpu(void)
{
	curproc->state = COWVMM_PSTATE_RUNNABLE;
	schedule();
}

/* Mark a process to die with `sig` at its next return to user mode; a
 * sleeper is woken so its wait loop notices. */
void kill_proc(struct proc *p, int sig)
{
	if (!p->killed)
		p->killed = sig;
	if (p->state == COWVMM_PSTATE_SLEEPING)
		p->state = COWVMM_PSTATE_RUNNABLE;
}
