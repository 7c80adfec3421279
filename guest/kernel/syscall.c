/* guest/kernel/syscall.c — system-call dispatch: a table indexed by number (guest/include/syscall.h). */
#include "kernel.h"
#include "proc.h"
#include "syscalls.h"

typedef long (*syscall_fn)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);

static const syscall_fn table[NSYSCALLS] = {
	[SYS_exit] = sys_exit,         [SYS_fork] = sys_fork,
	[SYS_waitpid] = sys_waitpid,   [SYS_getpid] = sys_getpid,
	[SYS_getppid] = sys_getppid,   [SYS_write] = sys_write,
	[SYS_read] = sys_read,         [SYS_pipe] = sys_pipe,
	[SYS_close] = sys_close,       [SYS_dup] = sys_dup,
	[SYS_yield] = sys_yield,       [SYS_sbrk] = sys_sbrk,
	[SYS_mmap] = sys_mmap,         [SYS_munmap] = sys_munmap,
	[SYS_sigaction] = sys_sigaction, [SYS_exec] = sys_exec,
	[SYS_kill] = sys_kill,         [SYS_meminfo] = sys_meminfo,
	[SYS_vmquery] = sys_vmquery,   [SYS_checkpoint] = sys_checkpoint,
	[SYS_failnth] = sys_failnth,   [SYS_mprotect] = sys_mprotect,
	[SYS_bench] = sys_bench,       [SYS_pin] = sys_pin,
	[SYS_unpin] = sys_unpin,       [SYS_pinread] = sys_pinread,
	[SYS_clone] = sys_clone,       [SYS_thread_exit] = sys_thread_exit,
	[SYS_gettid] = sys_gettid,     [SYS_cpuid] = sys_cpuid,
	[SYS_setaffinity] = sys_setaffinity,
};

/* return_to_user_checks' exit (proc.h). */
void return_to_user_killed(void)
{
	do_exit(curproc->killed);
}

void syscall_dispatch(struct trapframe *tf)
{
	uint64_t nr = tf->rax;
	KASSERT(tf == curproc->tf);
	/* `syscall` entered with interrupts off (FMASK); the kernel runs with
	 * them on, so this CPU answers TLB-shootdown IPIs while it waits for a
	 * lock (spinlock.h).  trapret turns them off again. */
	__asm__ volatile("sti" ::: "memory");
	if (nr < NSYSCALLS && table[nr])
		tf->rax = (uint64_t)table[nr](tf->rdi, tf->rsi, tf->rdx, tf->r10, tf->r8, tf->r9);
	else
		tf->rax = (uint64_t)-ENOSYS;
	return_to_user_checks(tf);
}
