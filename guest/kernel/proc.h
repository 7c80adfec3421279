/* guest/kernel/proc.h — processes: the table the VMM reads, trap frames, scheduling, files. */
#ifndef GUEST_PROC_H
#define GUEST_PROC_H

#include "kernel.h"
#include "cpu.h"
#include "mm.h"

/* Registers saved on the kernel stack by every trap and system-call entry
 * (layout fixed by trapasm.S).  Returning to user mode pops it with iretq. */
struct trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};
#define VEC_SYSCALL 0x100

/* Callee-saved registers switched by swtch(); rip is swtch's return address. */
struct context {
	uint64_t r15, r14, r13, r12, rbx, rbp, rip;
};

#define NPROC 64
#define NOFILE 16
#define NPIN 8
#define KSTACK_PAGES 2
#define KSTACK_SIZE (KSTACK_PAGES * PAGE_SIZE)

struct file;
struct fdtable {
	int used;
	struct file *fd[NOFILE];
};

/* The first fields are read by the VMM through struct cowvmm_proc_layout. */
struct proc {
	int32_t pid;            /* 0 = free slot */
	int32_t ppid;
	uint32_t state;         /* COWVMM_PSTATE_* */
	int32_t tgid;           /* thread group (= the leader's pid; = pid for a process's first thread) */
	uint64_t cr3;           /* page-table root, 0 when the address space is gone */
	char name[16];
	/* --- kernel-private below --- */
	/* Threads (clone.c): a process is a group of threads sharing the
	 * leader's mm and fd table.  The leader's slot lives until the last
	 * thread is gone (its own_mm is the group's); the other threads' slots
	 * are freed by the scheduler as soon as they are off their CPU. */
	struct proc *leader;    /* the group's first thread (itself for a leader) */
	int nthreads;           /* leader only: live threads of the group (under sched_lock) */
	int group_exit;         /* leader only: the group is exiting, with group_status */
	int group_status;
	int group_done;         /* leader only: the last thread has released everything: reapable */
	int self_reap;          /* a non-leader thread that has exited: freed by sched_finish */
	int reaping;            /* a zombie the parent is collecting (do_waitpid) */
	struct proc *parent;    /* a group leader: children belong to the whole group */
	struct mm *mm;          /* the address space it runs in: own_mm, or its group leader's */
	struct mm own_mm;       /* a group leader's (every process's) address space */
	int32_t cpu;            /* where it runs or ran last */
	uint64_t cpus_allowed;  /* CPUs it may run on (bit = CPU id; SYS_setaffinity); inherited */
	/* Its own faults, beside the kernel's global counters: a test measuring
	 * one write must not see a sibling's or another process's (meminfo). */
	uint64_t own_copies, own_reuses, own_zero_fills;
	struct context *ctx;    /* saved by swtch() */
	uint64_t kstack;        /* base virtual address (KSTACK_SIZE bytes) */
	uint64_t kstack_pa[KSTACK_PAGES];
	struct trapframe *tf;   /* user registers at the top of the kernel stack */
	struct fdtable *files;
	uint64_t sighand[NSIG]; /* per-signal handler: 0 default, 1 ignore */
	void *chan;             /* sleeping on */
	int killed;             /* signal that ends it at the next return to user */
	int xstatus;            /* wait status once a zombie */
	uint64_t pinned[NPIN];  /* frames this process pinned (SYS_pin) */
	uint8_t fxstate[512] __attribute__((aligned(16))); /* user FPU/SSE state */
} __attribute__((aligned(64)));

extern struct proc proctab[NPROC];

/* The group leader whose own_mm mm is: every mm a process runs in is its
 * leader's own_mm (proc_alloc: own_mm; a thread, fork.c: its leader's). */
static inline struct proc *mm_owner(struct mm *mm)
{
	return (struct proc *)((char *)mm - offsetof(struct proc, own_mm));
}
/* The process this CPU runs (NULL in its scheduler loop).  Stable in kernel
 * code between two sleeps: the kernel is not preemptible, so a process moves
 * to another CPU only inside sched(). */
#define curproc (mycpu()->proc)
extern uint8_t fx_default[512];
struct spinlock;
extern struct spinlock sched_lock;

/* proc.c */
int proc_alloc(struct proc **out);     /* EMBRYO slot with pid and kernel stack; -EAGAIN/-ENOMEM */
void proc_free(struct proc *p);        /* give back slot and kernel stack */
struct proc *proc_find(int pid);
void proc_set_name(struct proc *p, const char *name);
struct proc *initproc(void);

/* sched.c */
struct cpu;
_Noreturn void scheduler_start(void);  /* this CPU's scheduler loop, forever */
void sched(void);                      /* under sched_lock, state already set: run something else */
void sched_finish(struct proc *p);     /* exit.c: p just left its CPU (under sched_lock) */
void switch_mm(struct cpu *c, struct mm *next);
void sleep_on(void *chan, struct spinlock *lk);
void wakeup(void *chan);
void wakeup_locked(void *chan);        /* under sched_lock */
void make_runnable(struct proc *p);
void yield_cpu(void);
int sched_tick(void);                  /* the timer tick in user mode: 1 if it switched */
int sched_setaffinity(int tid, uint64_t mask);
void swtch(struct context **old, struct context *new);
void forkret(void);

/* fork.c / exit.c / exec.c */
int do_fork(void);
int do_clone(uint64_t ustack, uint64_t entry, uint64_t arg);
_Noreturn void do_exit(int wstatus);         /* the whole process (exit_group) */
_Noreturn void do_thread_exit(int wstatus);  /* this thread; the process if it is the last */
int do_waitpid(int pid, uint64_t ustatus, int options);
int do_kill(int pid, int sig);
void kill_proc(struct proc *p, int sig);
void kill_proc_locked(struct proc *p, int sig); /* under sched_lock */
int exec_program(struct proc *p, const char *name, int argc, char **argv);
_Noreturn void user_init(const char *cmdline);
int program_exists(const char *name);

/* files (file.c / pipe.c) */
enum file_type { FT_NONE, FT_CONSOLE, FT_PIPE };
struct pipe;
struct file {
	int type;
	int ref;
	int readable, writable;
	struct pipe *pipe;
};
struct file *file_alloc(void);
struct file *file_dup(struct file *f);
void file_close(struct file *f);
long file_read(struct file *f, uint64_t ubuf, uint64_t n);
long file_write(struct file *f, uint64_t ubuf, uint64_t n);
struct fdtable *fdtable_alloc(void);
void fdtable_free(struct fdtable *t);  /* closes every fd */
int fd_install(struct proc *p, struct file *f);
void fdtable_copy(struct fdtable *dst, struct fdtable *src);
struct file *fd_get(struct proc *p, uint64_t fd);    /* with a reference: file_close() it */
struct file *fd_remove(struct proc *p, uint64_t fd); /* the table's reference, to file_close() */
int pipe_alloc(struct file **rf, struct file **wf);
void pipe_close(struct pipe *p, int writable);
long pipe_read(struct pipe *p, uint64_t ubuf, uint64_t n);
long pipe_write(struct pipe *p, uint64_t ubuf, uint64_t n);

/* syscall.c */
void syscall_dispatch(struct trapframe *tf);
_Noreturn void return_to_user_killed(void);
/* A signal posted while in the kernel takes effect before user code runs.
 * The test inline (every fault and system call passes here), the exit out
 * of line. */
static inline void return_to_user_checks(struct trapframe *tf)
{
	(void)tf;
	if (__builtin_expect(curproc->killed != 0, 0))
		return_to_user_killed();
}

#endif
