/* expect.c — the one place where cowtest compares what the kernel did with the model, and explains mismatches. */
#include "cowtest.h"

/* Print one diagnostic line; on a failure also count it and keep the first
 * message as the summary of the case's TAP line. */
static void vreport(struct ctx *c, bool failure, const char *fmt, va_list ap)
{
	char msg[320];
	vsnprintf(msg, sizeof msg, fmt, ap);
	/* One write per line so lines of concurrent processes never interleave.
	 * " FAIL" marks a failure: tests/kvm/cow.kvm puts a child's first one
	 * on the case's TAP line, where the parent only saw a wait status. */
	printf("# %s %s[%d]%s: %s\n", c->name, c->who, getpid(), failure ? " FAIL" : "", msg);
	if (!failure)
		return;
	if (c->failures++ == 0)
		snprintf(c->first, sizeof c->first, "%s: %s", c->who, msg);
}

void diag(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(c, false, fmt, ap);
	va_end(ap);
}

bool fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(c, true, fmt, ap);
	va_end(ap);
	return false;
}

bool expect_true(struct ctx *c, bool ok, const char *fmt, ...)
{
	if (ok)
		return true;
	va_list ap;
	va_start(ap, fmt);
	vreport(c, true, fmt, ap);
	va_end(ap);
	return false;
}

bool expect_eq(struct ctx *c, uint64_t got, uint64_t want, const char *what)
{
	if (got == want)
		return true;
	return fail(c, "%s: got %lu (0x%lx), expected %lu (0x%lx)", what,
		    (unsigned long)got, (unsigned long)got,
		    (unsigned long)want, (unsigned long)want);
}

/* "P W C Z r" letters, '-' when clear, '?' when the model does not care. */
static void flag_str(char *s, int p, int w, int cw, int z, int rw)
{
	const int v[5] = { p, w, cw, z, rw };
	const char on[5] = { 'P', 'W', 'C', 'Z', 'r' };
	for (int i = 0; i < 5; i++)
		s[i] = v[i] < 0 ? '?' : v[i] ? on[i] : '-';
	s[5] = 0;
}

static bool field_ok(int want, uint32_t got)
{
	return want < 0 || (uint32_t)want == got;
}

bool expect_page(struct ctx *c, const volatile void *va, struct page_model m, const char *what)
{
	struct cow_vmquery q;
	memset(&q, 0, sizeof q);
	int rc = vmquery(va, &q);
	if (rc != 0)
		return fail(c, "%s: vmquery(%p) returned %d", what, (const void *)va, rc);
	bool ok = field_ok(m.present, q.present) && field_ok(m.writable, q.writable) &&
		  field_ok(m.cow, q.cow) && field_ok(m.zero, q.zero) &&
		  field_ok(m.region_w, q.region_writable) &&
		  (m.frame == ANY || m.frame == q.frame) && (m.ref == ANY || m.ref == q.refcount);
	/* The PTE must agree with the summary fields vmquery derived from it. */
	if (q.present) {
		bool pte_rw = (q.pte & COWVMM_PTE_RW) != 0, pte_cow = (q.pte & COWVMM_PTE_COW) != 0;
		if (pte_rw != (q.writable != 0) || pte_cow != (q.cow != 0) ||
		    ((q.pte & COWVMM_PTE_ADDR) >> 12) != q.frame)
			ok = false;
		if (q.writable && q.cow)
			ok = false; /* a COW PTE must never be writable */
		if (q.writable && q.refcount > 1)
			ok = false; /* a writable PTE must own its frame */
	}
	if (ok)
		return true;
	char gf[6], wf[6];
	flag_str(gf, (int)q.present, (int)q.writable, (int)q.cow, (int)q.zero, (int)q.region_writable);
	flag_str(wf, m.present, m.writable, m.cow, m.zero, m.region_w);
	char wfr[24], wref[24];
	if (m.frame == ANY)
		snprintf(wfr, sizeof wfr, "any");
	else
		snprintf(wfr, sizeof wfr, "0x%lx", (unsigned long)m.frame);
	if (m.ref == ANY)
		snprintf(wref, sizeof wref, "any");
	else
		snprintf(wref, sizeof wref, "%lu", (unsigned long)m.ref);
	return fail(c, "%s: va %p: frame 0x%lx (expected %s), refcount %u (expected %s), "
		    "flags %s (expected %s; P present W writable C cow Z zero r region-writable), pte 0x%lx",
		    what, (const void *)va, (unsigned long)q.frame, wfr, q.refcount, wref, gf, wf,
		    (unsigned long)q.pte);
}

bool expect_fill(struct ctx *c, const volatile void *va, uint64_t len, uint8_t byte, const char *what)
{
	const volatile uint8_t *p = va;
	for (uint64_t i = 0; i < len; i++)
		if (p[i] != byte)
			return fail(c, "%s: byte %lu at %p is 0x%x, expected 0x%x", what,
				    (unsigned long)i, (const void *)&p[i], p[i], byte);
	return true;
}

const char *status_str(int status, char *buf, int n)
{
	if (WIFEXITED(status))
		snprintf(buf, (size_t)n, "exit(%d)", WEXITSTATUS(status));
	else
		snprintf(buf, (size_t)n, "killed by signal %d", WTERMSIG(status));
	return buf;
}

bool expect_status(struct ctx *c, int status, int want, const char *what)
{
	if (status == want)
		return true;
	char g[32], w[32];
	return fail(c, "%s: wait status 0x%x = %s, expected 0x%x = %s", what, status,
		    status_str(status, g, sizeof g), want, status_str(want, w, sizeof w));
}

bool expect_checkpoint(struct ctx *c, uint32_t label)
{
	int v = checkpoint(label);
	if (v == 0)
		return true;
	return fail(c, "checkpoint %u: VMM audit verdict %d (invariants violated)", label, v);
}

void snap(struct counts *s)
{
	struct cow_meminfo mi;
	memset(&mi, 0, sizeof mi);
	meminfo(&mi);
	s->free = mi.free_frames;
	s->copies = mi.cow_copies;
	s->reuses = mi.cow_reuses;
	s->zero_fills = mi.zero_fills;
	s->own_copies = mi.own_cow_copies;
	s->own_reuses = mi.own_cow_reuses;
	s->own_zero_fills = mi.own_zero_fills;
	s->tid = gettid();
	s->oom = mi.oom_kills;
	s->segv = mi.segv_kills;
	s->forks = mi.forks;
	s->fork_fail = mi.fork_failures;
	s->nprocs = mi.nprocs;
}

bool expect_delta(struct ctx *c, const struct counts *a, const struct counts *b,
		  struct counts_delta d, const char *what)
{
	static const char *const names[6] = { "free frames", "cow copies", "cow reuses",
					      "zero fills", "oom kills", "segv kills" };
	/* One thread's two snapshots: its own fault counts, so that another
	 * process breaking COW meanwhile (a child at a tick, or on another
	 * CPU) does not show in a measured write.  Two threads' (a child's
	 * snapshot against the parent's): the machine's.  The free count is
	 * always the machine's (frames are not per process). */
	bool own = a->tid == b->tid;
	const uint64_t before[6] = { a->free, own ? a->own_copies : a->copies, own ? a->own_reuses : a->reuses,
				     own ? a->own_zero_fills : a->zero_fills, a->oom, a->segv };
	const uint64_t after[6] = { b->free, own ? b->own_copies : b->copies, own ? b->own_reuses : b->reuses,
				    own ? b->own_zero_fills : b->zero_fills, b->oom, b->segv };
	const int64_t want[6] = { d.free, d.copies, d.reuses, d.zero_fills, d.oom, d.segv };
	bool ok = true;
	for (int i = 0; i < 6; i++) {
		if (want[i] == D_ANY)
			continue;
		int64_t got = (int64_t)(after[i] - before[i]);
		if (got != want[i])
			ok = fail(c, "%s: %s changed by %ld (%lu -> %lu), expected %ld", what, names[i],
				  (long)got, (unsigned long)before[i],
				  (unsigned long)after[i], (long)want[i]);
	}
	return ok;
}

uint64_t frame_of(const volatile void *va)
{
	struct cow_vmquery q;
	memset(&q, 0, sizeof q);
	if (vmquery(va, &q) != 0 || !q.present)
		return ANY;
	return q.frame;
}

uint32_t ref_of(const volatile void *va)
{
	struct cow_vmquery q;
	memset(&q, 0, sizeof q);
	if (vmquery(va, &q) != 0 || !q.present)
		return 0;
	return q.refcount;
}

/* ---- a case's verdict */

int case_result(struct ctx *c)
{
	return c->failures ? CASE_FAIL : CASE_PASS;
}

int skip(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->first, sizeof c->first, fmt, ap);
	va_end(ap);
	return CASE_SKIP;
}
