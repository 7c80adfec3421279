/* guest/user/usys.c — system-call stubs (the x86-64 Linux convention: RAX number, RDI RSI RDX R10 R8 R9). */
#include "ulib.h"

static inline long syscall3(long nr, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

_Noreturn void exit(int status)
{
	syscall3(SYS_exit, status, 0, 0);
	for (;;)
		;
}

int fork(void) { return (int)syscall3(SYS_fork, 0, 0, 0); }
int waitpid(int pid, int *status, int options) { return (int)syscall3(SYS_waitpid, pid, (long)status, options); }
int wait(int *status) { return waitpid(-1, status, 0); }
int getpid(void) { return (int)syscall3(SYS_getpid, 0, 0, 0); }
int getppid(void) { return (int)syscall3(SYS_getppid, 0, 0, 0); }
long write(int fd, const void *buf, size_t len) { return syscall3(SYS_write, fd, (long)buf, (long)len); }
long read(int fd, void *buf, size_t len) { return syscall3(SYS_read, fd, (long)buf, (long)len); }
int pipe(int fds[2]) { return (int)syscall3(SYS_pipe, (long)fds, 0, 0); }
int close(int fd) { return (int)syscall3(SYS_close, fd, 0, 0); }
int dup(int fd) { return (int)syscall3(SYS_dup, fd, 0, 0); }
int yield(void) { return (int)syscall3(SYS_yield, 0, 0, 0); }
void *sbrk(long increment) { return (void *)syscall3(SYS_sbrk, increment, 0, 0); }
void *mmap_anon(size_t len, int prot) { return (void *)syscall3(SYS_mmap, (long)len, prot, 0); }
int munmap(void *addr, size_t len) { return (int)syscall3(SYS_munmap, (long)addr, (long)len, 0); }
int mprotect(void *addr, size_t len, int prot) { return (int)syscall3(SYS_mprotect, (long)addr, (long)len, prot); }
int sigaction(int sig, uint64_t handler, uint64_t *old) { return (int)syscall3(SYS_sigaction, sig, (long)handler, (long)old); }
int exec(const char *name, char *const argv[]) { return (int)syscall3(SYS_exec, (long)name, (long)argv, 0); }
int kill(int pid, int sig) { return (int)syscall3(SYS_kill, pid, sig, 0); }
int meminfo(struct cow_meminfo *mi) { return (int)syscall3(SYS_meminfo, (long)mi, 0, 0); }
int vmquery(const volatile void *va, struct cow_vmquery *q) { return (int)syscall3(SYS_vmquery, (long)va, (long)q, 0); }
int checkpoint(uint32_t label) { return (int)syscall3(SYS_checkpoint, label, 0, 0); }
int failnth(int site, int mode, uint64_t nth) { return (int)syscall3(SYS_failnth, site, mode, (long)nth); }
long clone_raw(void *stack_top, void (*fn)(void *), void *arg) { return syscall3(SYS_clone, (long)stack_top, (long)fn, (long)arg); }
_Noreturn void thread_exit(int status)
{
	syscall3(SYS_thread_exit, status, 0, 0);
	for (;;)
		;
}
int gettid(void) { return (int)syscall3(SYS_gettid, 0, 0, 0); }
int cpu_now(void) { return (int)syscall3(SYS_cpuid, 0, 0, 0); }
int setaffinity(int tid, uint64_t mask) { return (int)syscall3(SYS_setaffinity, (uint64_t)tid, mask, 0); }
long bench(int op, uint64_t a, uint64_t b) { return syscall3(SYS_bench, op, (long)a, (long)b); }
int pin(const volatile void *va) { return (int)syscall3(SYS_pin, (long)va, 0, 0); }
int unpin(int handle) { return (int)syscall3(SYS_unpin, handle, 0, 0); }
long pinread(int handle, void *buf, size_t len) { return syscall3(SYS_pinread, handle, (long)buf, (long)len); }
