/* guest/user/demo.c — the default program: watch fork share pages copy-on-write and a write split one off. */
#include "ulib.h"

#define NPAGES 4
static char pages[NPAGES][4096] __attribute__((aligned(4096)));

static void show(const char *who, int i)
{
	struct cow_vmquery q;
	vmquery(pages[i], &q);
	printf("%-7s page %d: '%c'  frame %#lx  refcount %u  %s%s\n", who, i, pages[i][0],
	       (unsigned long)q.frame, q.refcount, q.writable ? "writable" : "read-only",
	       q.cow ? " +COW" : "");
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct cow_meminfo before, after;
	for (int i = 0; i < NPAGES; i++)
		memset(pages[i], 'P', sizeof(pages[i]));
	printf("parent (pid %d) filled %d pages with 'P':\n", getpid(), NPAGES);
	for (int i = 0; i < NPAGES; i++)
		show("parent", i);

	/* The child waits for the parent's word before it looks: the story is
	 * told in the same order however the CPUs (and the timer) interleave
	 * the two (tests/kvm/boot.kvm compares one CPU's console with another
	 * run's: seen differing under load when the child ran first). */
	meminfo(&before);
	int go[2];
	if (pipe(go) < 0) {
		printf("pipe failed\n");
		return 1;
	}
	int pid = fork();
	if (pid < 0) {
		printf("fork failed: %d\n", pid);
		return 1;
	}
	if (pid == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			return 1;
		printf("child (pid %d) sees the same frames, shared read-only:\n", getpid());
		show("child", 1);
		printf("child writes 'C' into page 1 -> copy-on-write fault:\n");
		pages[1][0] = 'C';
		show("child", 1);
		show("child", 2);
		return 0;
	}
	printf("fork -> child pid %d; no page was copied:\n", pid);
	show("parent", 1);
	close(go[0]);
	if (write(go[1], "g", 1) != 1)
		printf("write to the child failed\n");
	close(go[1]);
	int status = 0;
	waitpid(pid, &status, 0);
	printf("child exited (status %d); the parent still reads its own data:\n", WEXITSTATUS(status));
	show("parent", 1);
	printf("parent writes page 1: it is the only user left, so the frame is reused:\n");
	pages[1][0] = 'p';
	show("parent", 1);
	meminfo(&after);
	printf("COW faults since fork (stack pages too): %lu copies, %lu reuses; free frames %lu -> %lu\n",
	       (unsigned long)(after.cow_copies - before.cow_copies),
	       (unsigned long)(after.cow_reuses - before.cow_reuses),
	       (unsigned long)before.free_frames, (unsigned long)after.free_frames);
	return pages[1][0] == 'p' && pages[2][0] == 'P' && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
