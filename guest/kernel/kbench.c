/* guest/kernel/kbench.c — SYS_bench (guest/include/bench.h): timing support for cowbench; a stub until implemented. */
#include "kernel.h"
#include "syscalls.h"

SYSCALL(bench)
{
	UNUSED_ARGS();
	return -ENOSYS;
}
