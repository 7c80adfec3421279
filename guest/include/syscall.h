/* guest/include/syscall.h — system call numbers and structures shared by the guest kernel and user programs. */
#ifndef COWVMM_GUEST_SYSCALL_H
#define COWVMM_GUEST_SYSCALL_H

#include <stdint.h>

/*
 * Calling convention (as Linux x86-64): `syscall` with RAX = number,
 * arguments in RDI, RSI, RDX, R10, R8, R9; result in RAX.  A negative result
 * in [-4095, -1] is -errno.
 */
enum {
	SYS_exit = 0,       /* (int status) -> does not return */
	SYS_fork = 1,       /* () -> child pid in parent, 0 in child, -ENOMEM/-EAGAIN */
	SYS_waitpid = 2,    /* (int pid, int *status, int options); pid -1 = any -> pid, -ECHILD */
	SYS_getpid = 3,     /* () -> pid */
	SYS_getppid = 4,    /* () -> parent pid (1 once reparented to init) */
	SYS_write = 5,      /* (int fd, const void *buf, uint64 len) -> bytes, -EBADF, -EPIPE, -EFAULT */
	SYS_read = 6,       /* (int fd, void *buf, uint64 len) -> bytes, 0 at EOF, -EFAULT */
	SYS_pipe = 7,       /* (int fds[2]) -> 0; fds[0] read end, fds[1] write end */
	SYS_close = 8,      /* (int fd) -> 0, -EBADF */
	SYS_dup = 9,        /* (int fd) -> lowest free fd */
	SYS_yield = 10,     /* () -> 0 */
	SYS_sbrk = 11,      /* (int64 increment) -> old break, -ENOMEM */
	SYS_mmap = 12,      /* (uint64 len, int prot) -> address of fresh anonymous zero pages */
	SYS_munmap = 13,    /* (void *addr, uint64 len) -> 0 */
	SYS_sigaction = 14, /* (int sig, uint64 handler, uint64 *old) -> 0; table copied by fork */
	SYS_exec = 15,      /* (const char *name, char *const argv[]) -> no return, -ENOENT */
	SYS_kill = 16,      /* (int pid, int sig) -> 0 */
	SYS_meminfo = 17,   /* (struct cow_meminfo *) -> 0 */
	SYS_vmquery = 18,   /* (uint64 va, struct cow_vmquery *) -> 0 */
	SYS_checkpoint = 19,/* (uint32 label) -> VMM verdict (0 = invariants hold) */
	SYS_failnth = 20,   /* (int site, int mode, uint64 nth) -> 0: arm in-kernel fault injection */
	SYS_mprotect = 21,  /* (void *addr, uint64 len, int prot) -> 0 */
	SYS_bench = 22,     /* (int op, uint64 a, uint64 b) -> benchmark helpers (see bench) */
	/* Kernel pins (like get_user_pages / vmsplice): a reference to the frame
	 * mapped at va that is not a PTE and outlives the mapping.  While pinned,
	 * a COW write fault on that frame must copy, never reuse. */
	SYS_pin = 23,       /* (const void *va) -> handle >= 0 (faults the page in first), -EFAULT, -EMFILE */
	SYS_unpin = 24,     /* (int handle) -> 0, -EBADF */
	SYS_pinread = 25,   /* (int handle, void *buf, uint64 len) -> bytes read from the pinned frame */
	/* Threads: a process is a group of threads sharing one address space
	 * and fd table (Linux's CLONE_VM | CLONE_FILES | CLONE_THREAD).  getpid
	 * returns the group's id (the first thread's), as in Linux; SYS_exit
	 * ends every thread (exit_group), SYS_thread_exit only the caller (the
	 * last one ends the process with its status).  fork from a thread makes
	 * a process with one thread; kill signals the whole group; waitpid
	 * reaps a child once all its threads are gone. */
	SYS_clone = 26,       /* (void *stack_top, void (*fn)(void *), void *arg) -> tid */
	SYS_thread_exit = 27, /* (int status) -> does not return */
	SYS_gettid = 28,      /* () -> this thread's id */
	SYS_cpuid = 29,       /* () -> the CPU this thread runs on now (tests) */
	/* (int tid, uint64 mask) -> 0, -EINVAL (no online CPU in mask), -ESRCH:
	 * the CPUs (bit = id) a thread of the caller's process (0: the caller)
	 * may run on; fork and clone inherit it (Linux's sched_setaffinity).
	 * The SMP tests pin threads with it to force an interleaving. */
	SYS_setaffinity = 30,
	NSYSCALLS
};

/* errno values (Linux numbering). */
#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EBADF 9
#define ECHILD 10
#define EAGAIN 11
#define ENOMEM 12
#define EFAULT 14
#define EBUSY 16
#define E2BIG 7
#define EINVAL 22
#define EMFILE 24
#define EPIPE 32
#define ENOSYS 38

/* Signals (Linux numbering); a process killed by one has it as wait status. */
#define SIGKILL 9  /* out of memory */
#define SIGSEGV 11 /* bad access: unmapped, write to read-only region, kernel memory */
#define SIGBUS 7
#define SIGPIPE 13
#define NSIG 32

/* waitpid status encoding (as Linux). */
#define W_EXITCODE(code) (((code) & 0xff) << 8)
#define WIFEXITED(s) (((s) & 0x7f) == 0)
#define WEXITSTATUS(s) (((s) >> 8) & 0xff)
#define WIFSIGNALED(s) (((s) & 0x7f) != 0)
#define WTERMSIG(s) ((s) & 0x7f)
#define WNOHANG 1

/* mmap / mprotect protections. */
#define PROT_READ 1
#define PROT_WRITE 2

/* User address space layout. */
#define USER_TEXT_BASE  0x400000ull       /* programs are linked here */
#define USER_MMAP_BASE  0x100000000ull    /* anonymous mmap area grows up from here */
#define USER_STACK_TOP  0x7ffffff00000ull /* initial stack grows down from here */
#define USER_STACK_PAGES 16

struct cow_meminfo {
	uint64_t total_frames;   /* frames managed by the allocator */
	uint64_t free_frames;    /* free now */
	uint64_t forks;          /* counters, as struct cowvmm_guest_stats */
	uint64_t fork_failures;
	uint64_t cow_copies;
	uint64_t cow_reuses;
	uint64_t zero_fills;
	uint64_t oom_kills;
	uint64_t segv_kills;
	uint64_t spurious_faults;
	uint64_t nprocs;         /* processes in use (any state but unused) */
	uint64_t ncpus;          /* CPUs online */
	uint64_t timer_ticks, preemptions, ipis_sent, tlb_shootdowns, cow_races, threads;
	/* The calling thread's own COW copies, reuses and zero fills (the
	 * counters above are the whole machine's, other processes included). */
	uint64_t own_cow_copies, own_cow_reuses, own_zero_fills;
};

struct cow_vmquery {
	uint64_t pte;            /* raw leaf PTE (0 if not mapped) */
	uint64_t frame;          /* frame number it maps */
	uint32_t refcount;       /* reference count of that frame */
	uint32_t present;        /* 1 if mapped */
	uint32_t writable;       /* PTE RW */
	uint32_t cow;            /* PTE COW software flag */
	uint32_t region_writable;/* the region (VMA) allows writes */
	uint32_t zero;           /* maps the shared zero frame */
};

/* SYS_failnth sites and modes are those of cowvmm/abi.h (COWVMM_SITE_*, COWVMM_INJ_*).
 * site FAILNTH_ANY_SITE counts allocation calls at every site together (Linux
 * fail-nth).  Arming restarts the call count from 0; for COWVMM_INJ_RANDOM, nth
 * is the probability in ppm.  mode COWVMM_INJ_OFF disarms that rule and returns
 * the number of failures it injected since armed.  Counting is kernel-wide
 * (every process's allocations count).  -EBUSY when the VMM supplied a plan. */
#define FAILNTH_ANY_SITE (-1)

#endif
