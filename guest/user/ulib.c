/* guest/user/ulib.c — the rest of the user library: formatted output and a small PRNG. */
#include "ulib.h"

int dprintf(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	write(fd, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1));
	return n;
}

int printf(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	write(1, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1));
	return n;
}

uint64_t rand64(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* A new thread's first frame: fn(arg) is entered with this as its return
 * address, so returning from fn ends the thread. */
static void thread_return(void)
{
	thread_exit(0);
}

int thread_create(void (*fn)(void *), void *arg, void *stack, size_t size)
{
	/* At fn's first instruction RSP + 8 is 16-byte aligned (the C ABI). */
	uint64_t top = ((uint64_t)stack + size) & ~15ull;
	top -= 8;
	*(uint64_t *)top = (uint64_t)thread_return;
	return (int)clone_raw((void *)top, fn, arg);
}
