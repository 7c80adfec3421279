/* guest/user/ulib.h — the small C library user programs are written against. */
#ifndef COWVMM_ULIB_H
#define COWVMM_ULIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "syscall.h"
#include "cowvmm/abi.h"

/* System calls (return -errno on failure, as the raw syscall). */
_Noreturn void exit(int status);        /* the whole process, every thread */
/* Threads (SYS_clone): fn(arg) runs on the given stack in this address
 * space; returning from fn ends the thread (thread_exit(0)).  The stack must
 * stay valid until then.  Returns the thread id or -errno. */
int thread_create(void (*fn)(void *), void *arg, void *stack, size_t size);
_Noreturn void thread_exit(int status);  /* this thread only */
int gettid(void);
int cpu_now(void);                       /* the CPU running the caller now */
int setaffinity(int tid, uint64_t mask); /* CPUs (bit = id) thread tid (0: me) may run on */
long clone_raw(void *stack_top, void (*fn)(void *), void *arg);
int fork(void);
int waitpid(int pid, int *status, int options);
int wait(int *status);
int getpid(void);
int getppid(void);
long write(int fd, const void *buf, size_t len);
long read(int fd, void *buf, size_t len);
int pipe(int fds[2]);
int close(int fd);
int dup(int fd);
int yield(void);
void *sbrk(long increment);          /* (void *)-ENOMEM-ish on failure: check with IS_ERR */
void *mmap_anon(size_t len, int prot);
int munmap(void *addr, size_t len);
int mprotect(void *addr, size_t len, int prot);
int sigaction(int sig, uint64_t handler, uint64_t *old);
int exec(const char *name, char *const argv[]);
int kill(int pid, int sig);
int meminfo(struct cow_meminfo *mi);
int vmquery(const volatile void *va, struct cow_vmquery *q);
int checkpoint(uint32_t label);
int failnth(int site, int mode, uint64_t nth);
long bench(int op, uint64_t a, uint64_t b);
int pin(const volatile void *va);     /* kernel reference to the frame at va (see SYS_pin) */
int unpin(int handle);
long pinread(int handle, void *buf, size_t len);

#define IS_ERR(p) ((uint64_t)(p) >= (uint64_t)-4095)

/* Strings, memory, vsnprintf/snprintf: the library shared with the kernel. */
#include "guestlib.h"

/* Formatted output to fd 1 (buffered per call; %d %i %u %x %lx %lu %ld %llu %s %c %p %%). */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int dprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Cheap deterministic PRNG (xorshift64*). */
uint64_t rand64(uint64_t *state);

/* Serialized TSC read (lfence; rdtsc). */
static inline uint64_t rdtsc_serialized(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

/* Program entry: the user library's _start calls main(argc, argv) then exit(). */
int main(int argc, char **argv);

#endif
