/* cases_fault.c — catalogue 7-10, 18, 20: writes to read-only regions, the zero page, kernel writes into COW pages, kernel pins, pins released at exit, heap pages released by sbrk. */
#include "cowtest.h"

extern const char cowtest_rodata[64];

/* 7. A write to a read-only region after fork kills the writer with SIGSEGV,
 * copies nothing, and leaves the shared page as it was. */
static void ro_write(struct ctx *c, volatile uint8_t *ro, const char *what)
{
	uint64_t f = frame_of(ro);
	uint64_t r = ref_of(ro);
	uint8_t before = peek(ro);
	struct gate up, down;
	if (!gate_open(c, &up) || !gate_open(c, &down))
		return;
	int pid = xfork(c);
	if (pid < 0)
		return;
	warm_stack();
	if (pid == 0) {
		c->who = "child";
		gate_post(&up, 0);
		gate_wait(&down);
		struct counts m0;
		snap(&m0);
		write(up.w, &m0, sizeof m0);
		*ro = (uint8_t)(before ^ 0xff);
		fail(c, "%s: write to %p succeeded (now 0x%x)", what, (void *)ro, peek(ro));
		exit(3);
	}
	struct counts m0, m1;
	gate_wait(&up);
	gate_post(&down, 0);
	long n = read(up.r, &m0, sizeof m0);
	expect_eq(c, (uint64_t)n, sizeof m0, "child's counter snapshot");
	reap(c, pid, ST_SIG(SIGSEGV), what);
	snap(&m1);
	/* The child's frames came back (free grows); nothing was copied or filled. */
	expect_delta(c, &m0, &m1, (struct counts_delta){ .free = D_ANY, .segv = 1 }, what);
	expect_page(c, ro, M_RO(f, r), what);
	expect_eq(c, peek(ro), before, "read-only byte after the write attempt");
	gate_close(&up);
	gate_close(&down);
}

int t_text(struct ctx *c)
{
	ro_write(c, (volatile uint8_t *)(uintptr_t)&t_text, "write to text");
	ro_write(c, (volatile uint8_t *)(uintptr_t)cowtest_rodata, "write to rodata");
	expect_checkpoint(c, CP(7, 1));
	return case_result(c);
}

/* 8. Reading a fresh anonymous page maps the shared zero frame; a write after
 * fork gets a zeroed frame without a copy; the zero frame stays zero. */
int t_zero(struct ctx *c)
{
	uint8_t *z = mmap_anon(3 * PAGE, PROT_READ | PROT_WRITE);
	if (z == NULL || IS_ERR(z))
		return fail(c, "mmap_anon returned %p", (void *)z), CASE_FAIL;
	struct counts a, b;
	warm_stack();
	(void)peek(z + 2 * PAGE); /* any page-table page for the region is made here */
	snap(&a);
	(void)peek(z);
	snap(&b);
	expect_delta(c, &a, &b, D_NONE, "read fault on a fresh anonymous page");
	uint64_t zf = frame_of(z);
	expect_page(c, z, M_ZERO(ANY), "fresh page after a read");
	expect_page(c, z + 2 * PAGE, M_ZERO(zf), "second fresh page after a read (same zero frame)");
	(void)peek(z + PAGE);
	expect_fill(c, z, 3 * PAGE, 0, "fresh pages");
	expect_checkpoint(c, CP(8, 1));
	struct gate up;
	if (!gate_open(c, &up))
		return CASE_FAIL;
	int pid = xfork(c);
	if (pid < 0)
		return CASE_FAIL;
	warm_stack();
	if (pid == 0) {
		c->who = "child";
		expect_page(c, z, M_ZERO(zf), "zero page in the child");
		measured_poke(z, 'c', &a, &b);
		expect_delta(c, &a, &b, D_ZEROFILL, "child's write to the zero page (fill, not copy)");
		expect_page(c, z, M_PRIVATE(ANY), "child's page after its write");
		expect_true(c, frame_of(z) != zf, "child's written page still maps the zero frame");
		expect_eq(c, peek(z), 'c', "child's value");
		expect_fill(c, z + 1, PAGE - 1, 0, "rest of the child's new page");
		expect_checkpoint(c, CP(8, 2));
		gate_post(&up, 0);
		child_exit(c);
	}
	gate_wait(&up);
	expect_page(c, z, M_ZERO(zf), "parent's zero page after the child wrote");
	expect_fill(c, z, 3 * PAGE, 0, "parent's zero pages after the child wrote");
	reap(c, pid, ST_EXIT(0), "child");
	measured_poke(z + PAGE, 'p', &a, &b);
	expect_delta(c, &a, &b, D_ZEROFILL, "parent's write to a zero page");
	expect_page(c, z + PAGE, M_PRIVATE(ANY), "parent's page after its write");
	expect_fill(c, z, PAGE, 0, "other zero page after the parent wrote");
	expect_fill(c, z + PAGE + 1, PAGE - 1, 0, "rest of the parent's new page");
	/* A page mapped later still reads as zeroes from the same frame. */
	uint8_t *z2 = mmap_anon(PAGE, PROT_READ | PROT_WRITE);
	if (z2 == NULL || IS_ERR(z2))
		return fail(c, "mmap_anon returned %p", (void *)z2), CASE_FAIL;
	expect_fill(c, z2, PAGE, 0, "a fresh page after all that");
	expect_page(c, z2, M_ZERO(zf), "a fresh page after all that");
	expect_checkpoint(c, CP(8, 3));
	gate_close(&up);
	return case_result(c);
}

/* 9. The kernel writes into a COW page through read() from a pipe: the reader
 * gets its own copy, the other sharer's page is untouched. */
static const char kmsg[16] = "kernel-wrote-it";

static void kwrite_once(struct ctx *c, bool child_reads)
{
	uint8_t *x = map_pages(c, 1, 'K');
	if (!x)
		return;
	uint64_t f = frame_of(x);
	struct gate up, down, data;
	if (!gate_open(c, &up) || !gate_open(c, &down) || !gate_open(c, &data))
		return;
	int pid = xfork(c);
	if (pid < 0)
		return;
	bool reader = (pid == 0) == child_reads;
	c->who = pid == 0 ? (child_reads ? "child (reader)" : "child (sharer)")
			  : (child_reads ? "parent (sharer)" : "parent (reader)");
	struct gate *tx = pid == 0 ? &up : &down, *rx = pid == 0 ? &down : &up;
	if (reader) {
		gate_post(tx, 0); /* the writer may send now: the read below likely blocks first */
		long n = read(data.r, x + 100, sizeof kmsg);
		expect_eq(c, (uint64_t)n, sizeof kmsg, "read() into the COW page");
		expect_true(c, memcmp((const void *)(x + 100), kmsg, sizeof kmsg) == 0,
			    "read() data did not land in the reader's page");
		expect_fill(c, x, 100, 'K', "reader's page before the data");
		expect_fill(c, x + 100 + sizeof kmsg, PAGE - 100 - sizeof kmsg, 'K', "reader's page after the data");
		expect_page(c, x, M_PRIVATE(ANY), "reader's page after read()");
		expect_true(c, frame_of(x) != f, "read() wrote into the frame shared with the other process");
		gate_post(tx, 0);
		gate_wait(rx);
	} else {
		gate_wait(rx);
		for (int i = 0; i < 3; i++)
			yield();
		write(data.w, kmsg, sizeof kmsg);
		gate_wait(rx); /* the reader checked its copy */
		expect_fill(c, x, PAGE, 'K', "the other sharer's page after the kernel wrote for the reader");
		expect_page(c, x, M_COW(f, 1), "the other sharer's page");
		gate_post(tx, 0);
	}
	expect_checkpoint(c, CP(9, pid == 0 ? 1 : 2));
	if (pid == 0)
		child_exit(c);
	reap(c, pid, ST_EXIT(0), "child");
	gate_close(&up);
	gate_close(&down);
	gate_close(&data);
}

int t_kwrite(struct ctx *c)
{
	kwrite_once(c, true);
	c->who = "runner";
	kwrite_once(c, false);
	c->who = "runner";
	/* The kernel must refuse to write into a read-only region for the user. */
	struct gate data;
	if (!gate_open(c, &data))
		return CASE_FAIL;
	volatile uint8_t *text = (volatile uint8_t *)(uintptr_t)&t_kwrite;
	uint8_t before = peek(text);
	write(data.w, kmsg, sizeof kmsg);
	long n = read(data.r, (void *)text, 4);
	expect_eq(c, (uint64_t)n, (uint64_t)-EFAULT, "read() into the text segment");
	expect_eq(c, peek(text), before, "text byte after read() into it");
	gate_close(&data);
	return case_result(c);
}

/* 10. A kernel reference that outlives the mapping (SYS_pin, like vmsplice or
 * get_user_pages) must force a copy, never a reuse: the child pins the shared
 * page and unmaps it, so the parent's PTE is the only mapping left but the
 * frame still has two references.  Reusing it would let the pin holder read
 * the parent's later writes (CVE-2020-29374). */
int t_kpin(struct ctx *c)
{
	uint8_t *x = map_pages(c, 1, 'K');
	if (!x)
		return CASE_FAIL;
	uint64_t f = frame_of(x);
	struct gate up, down;
	if (!gate_open(c, &up) || !gate_open(c, &down))
		return CASE_FAIL;
	int pid = xfork(c);
	if (pid < 0)
		return CASE_FAIL;
	warm_stack();
	if (pid == 0) {
		c->who = "child";
		int h = pin(x);
		if (h == -ENOSYS) {
			gate_post(&up, 0xee);
			exit(0);
		}
		expect_true(c, h >= 0, "pin() returned %d", h);
		expect_page(c, x, M_COW(f, 3), "pinned page: two PTEs and a pin");
		expect_eq(c, (uint64_t)munmap(x, PAGE), 0, "munmap of the pinned page");
		gate_post(&up, 0);
		gate_wait(&down); /* the parent has written */
		char buf[PAGE];
		long n = pinread(h, buf, PAGE);
		expect_eq(c, (uint64_t)n, PAGE, "pinread()");
		expect_fill(c, buf, PAGE, 'K', "pinned frame after the parent wrote (must not see the write)");
		expect_eq(c, (uint64_t)unpin(h), 0, "unpin()");
		child_exit(c);
	}
	int v = gate_wait(&up);
	if (v == 0xee) {
		reap(c, pid, ST_EXIT(0), "child");
		return skip(c, "SYS_pin not implemented");
	}
	expect_page(c, x, M_COW(f, 2), "parent's page: its PTE and the child's pin");
	struct counts a, b;
	measured_poke(x, 'p', &a, &b);
	expect_delta(c, &a, &b, D_COPY, "parent's write to a page pinned by the kernel (copy, not reuse)");
	expect_page(c, x, M_PRIVATE(ANY), "parent's page after its write");
	expect_true(c, frame_of(x) != f, "parent reused the frame still pinned by the kernel (0x%lx)",
		    (unsigned long)f);
	expect_eq(c, peek(x), 'p', "parent's value");
	expect_fill(c, x + 1, PAGE - 1, 'K', "rest of the parent's copy");
	expect_checkpoint(c, CP(10, 1));
	gate_post(&down, 0);
	reap(c, pid, ST_EXIT(0), "child");
	gate_close(&up);
	gate_close(&down);
	return case_result(c);
}

/* A child that finds SYS_pin missing exits with this code, and the parent skips. */
#define NO_PIN 0xee

/* 18. A process that exits while holding pins (SYS_pin) must drop them at
 * exit: once it is reaped, every frame it used is free again and the page it
 * shared with its parent is back to the parent's one reference.  Nobody else
 * can ever unpin them: the handles die with the process. */
int t_pinexit(struct ctx *c)
{
	uint8_t *x = map_pages(c, 1, 'P');
	if (!x)
		return CASE_FAIL;
	uint64_t f = frame_of(x);
	struct counts a, b;
	snap(&a);
	int pid = xfork(c);
	if (pid < 0)
		return CASE_FAIL;
	if (pid == 0) {
		c->who = "child";
		/* One pin on the page shared with the parent, one on a frame only
		 * the child maps (its last reference after exit would be the pin). */
		uint8_t *y = map_pages(c, 1, 'Q');
		int h1 = pin(x);
		if (h1 == -ENOSYS)
			exit(NO_PIN);
		int h2 = y ? pin(y) : -EFAULT;
		expect_true(c, h1 >= 0, "pin() of the shared page returned %d", h1);
		expect_true(c, h2 >= 0, "pin() of the child's own page returned %d", h2);
		expect_page(c, x, M_COW(f, 3), "shared page: two PTEs and the child's pin");
		child_exit(c); /* without unpin(): exit must release both pins */
	}
	int st = 0;
	if (waitpid(pid, &st, 0) == pid && st == ST_EXIT(NO_PIN))
		return skip(c, "SYS_pin not implemented");
	expect_status(c, st, ST_EXIT(0), "child that exited holding two pins");
	snap(&b);
	/* Fork's frames, the child's page, its copied stack pages and page tables
	 * all come back; the parent's own writes after fork only reused. */
	expect_delta(c, &a, &b,
		     (struct counts_delta){ .free = 0, .copies = D_ANY, .reuses = D_ANY, .zero_fills = D_ANY },
		     "free frames before fork vs after reaping a child that exited with pins");
	expect_eq(c, ref_of(x), 1, "refcount of the shared page once the pinning child is reaped");
	expect_checkpoint(c, CP(18, 1));
	return case_result(c);
}

/* 20. Shrinking the heap with sbrk unmaps the released pages: a later write to
 * one must kill the process with SIGSEGV.  The child touches the pages itself
 * before the shrink, so they are its own writable pages (a shared COW page
 * would fault anyway and hide a kernel that leaves them mapped). */
int t_sbrkshrink(struct ctx *c)
{
	struct gate g; /* the child's checks before the write: 0 passed, 1 failed */
	if (!gate_open(c, &g))
		return CASE_FAIL;
	int pid = xfork(c);
	if (pid < 0)
		return CASE_FAIL;
	if (pid == 0) {
		c->who = "child";
		const long grow = 3 * (long)PAGE;
		uint8_t *b = sbrk(grow);
		if (IS_ERR(b)) {
			fail(c, "sbrk(%ld) returned %p", grow, (void *)b);
			gate_post(&g, 1);
			exit(2);
		}
		memset(b, 'S', (size_t)grow);
		/* The first page wholly past the old break: released by the shrink. */
		volatile uint8_t *gone = (volatile uint8_t *)(((uintptr_t)b + PAGE - 1) & ~(PAGE - 1));
		expect_page(c, gone, M_PRIVATE(ANY), "heap page before the shrink");
		void *old = sbrk(-grow);
		expect_eq(c, (uint64_t)(uintptr_t)old, (uint64_t)(uintptr_t)(b + grow), "sbrk(-grow)");
		expect_page(c, gone, (struct page_model){ ANY, ANY, 0, -1, -1, -1, 0 },
			    "released heap page after the shrink (must be unmapped)");
		/* Tell the parent before the write: the write must end this process. */
		gate_post(&g, c->failures ? 1 : 0);
		poke(gone, 'X');
		fail(c, "write to released heap page %p succeeded (reads 0x%x)", (void *)gone, peek(gone));
		exit(3);
	}
	reap(c, pid, ST_SIG(SIGSEGV), "write to a heap page released by sbrk");
	expect_eq(c, (uint64_t)gate_wait(&g), 0, "child's checks before the write (1: failed)");
	gate_close(&g);
	return case_result(c);
}
