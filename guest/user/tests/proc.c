/* proc.c — process plumbing for cowtest: gates (pipes), forking, reaping, fresh pages, stack warming. */
#include "cowtest.h"

bool gate_open(struct ctx *c, struct gate *g)
{
	int fds[2] = { -1, -1 };
	int rc = pipe(fds);
	g->r = fds[0];
	g->w = fds[1];
	if (rc != 0)
		return fail(c, "pipe() returned %d", rc);
	return true;
}

void gate_close(struct gate *g)
{
	if (g->r >= 0)
		close(g->r);
	if (g->w >= 0)
		close(g->w);
	g->r = g->w = -1;
}

void gate_post(struct gate *g, uint8_t v)
{
	write(g->w, &v, 1);
}

int gate_wait(struct gate *g)
{
	uint8_t v = 0;
	long n = read(g->r, &v, 1);
	return n == 1 ? v : -1;
}

/* Deeper than any call chain of the cases below (printf's buffer included),
 * shallower than the USER_STACK_PAGES stack. */
#define WARM_BYTES (24 * 1024)

__attribute__((noinline)) void warm_stack(void)
{
	uint8_t buf[WARM_BYTES];
	for (unsigned i = 0; i < WARM_BYTES; i += 512)
		((volatile uint8_t *)buf)[i] = (uint8_t)i;
	__asm__ volatile("" : : "r"(buf) : "memory"); /* keep buf on the stack */
}

int xfork(struct ctx *c)
{
	int pid = fork();
	if (pid < 0)
		fail(c, "fork() returned %d", pid);
	return pid;
}

_Noreturn void child_exit(struct ctx *c)
{
	exit(c->failures ? 1 : 0);
}

bool reap(struct ctx *c, int pid, int want, const char *what)
{
	int status = 0;
	int rc = waitpid(pid, &status, 0);
	if (rc != pid)
		return fail(c, "%s: waitpid(%d) returned %d", what, pid, rc);
	return expect_status(c, status, want, what);
}

uint8_t *map_pages(struct ctx *c, uint64_t npages, uint8_t byte)
{
	uint8_t *p = mmap_anon(npages * PAGE, PROT_READ | PROT_WRITE);
	if (p == NULL || IS_ERR(p)) {
		fail(c, "mmap_anon(%lu pages) returned %p", (unsigned long)npages, (void *)p);
		return NULL;
	}
	for (uint64_t i = 0; i < npages; i++)
		memset(p + i * PAGE, byte, PAGE);
	return p;
}

__attribute__((noinline)) void measured_poke(volatile void *p, uint8_t v, struct counts *before,
					     struct counts *after)
{
	snap(before);
	*(volatile uint8_t *)p = v;
	snap(after);
}
