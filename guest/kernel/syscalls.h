/* guest/kernel/syscalls.h — the system-call handlers (raw 64-bit arguments, -errno results). */
#ifndef GUEST_SYSCALLS_H
#define GUEST_SYSCALLS_H

#include <stdint.h>

#define SYSCALL(name) long sys_##name(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
#define UNUSED_ARGS(from) ((void)a0, (void)a1, (void)a2, (void)a3, (void)a4, (void)a5)

SYSCALL(exit); SYSCALL(fork); SYSCALL(waitpid); SYSCALL(getpid); SYSCALL(getppid);
SYSCALL(yield); SYSCALL(sigaction); SYSCALL(exec); SYSCALL(kill);
SYSCALL(write); SYSCALL(read); SYSCALL(pipe); SYSCALL(close); SYSCALL(dup);
SYSCALL(sbrk); SYSCALL(mmap); SYSCALL(munmap); SYSCALL(mprotect);
SYSCALL(meminfo); SYSCALL(vmquery); SYSCALL(checkpoint); SYSCALL(failnth); SYSCALL(bench);
SYSCALL(pin); SYSCALL(unpin); SYSCALL(pinread);
SYSCALL(clone); SYSCALL(thread_exit); SYSCALL(gettid); SYSCALL(cpuid); SYSCALL(setaffinity);

#endif
