/* vmm/ptdump.c — --dump-pt: a process's page tables in QEMU's `info mem` / `info tlb` styles, with COW flag and refcounts. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cowvmm/names.h"
#include "inspect.h"
#include "ptdump.h"
#include "ptwalk.h"
#include "vmm.h"

/* Lines per process and section: a hostile guest's tables (every slot
 * full, faults everywhere) must not make a dump of megabytes; past it one
 * line says how many were left out. */
#define PTDUMP_MAX_LINES 4096u

struct dumpctx {
	FILE *f;
	const struct books *b;
	unsigned lines;
	uint64_t skipped;
};

/* Room for one more line in this section? Counts what is left out. */
static bool room(struct dumpctx *d)
{
	if (d->lines < PTDUMP_MAX_LINES) {
		d->lines++;
		return true;
	}
	d->skipped++;
	return false;
}

static void section_end(struct dumpctx *d)
{
	if (d->skipped)
		fprintf(d->f, "  ... %llu more line(s) not shown (at most %u per process and section)\n",
			(unsigned long long)d->skipped, PTDUMP_MAX_LINES);
	d->lines = 0;
	d->skipped = 0;
}

static int dump_range(void *ctx, const struct ptw_range *r)
{
	struct dumpctx *d = ctx;
	char fl[8];
	if (!room(d))
		return 0;
	fprintf(d->f, "  %016" PRIx64 "-%016" PRIx64 " %016" PRIx64 " %s\n", r->va, r->end,
		r->end - r->va, ptw_flags_str(r->eff, r->cow, fl));
	return 0;
}

static int dump_fault(void *ctx, const struct ptw_fault *f)
{
	struct dumpctx *d = ctx;
	if (!room(d))
		return 0;
	fprintf(d->f, "  !! %016" PRIx64 ": %s (level-%d entry 0x%016" PRIx64 " at 0x%" PRIx64 ")\n", f->va,
		ptw_error_name(f->err), f->level, f->entry, f->entry_gpa);
	return 0;
}

/* `info tlb` flags: X(NX) G P(S) D A C(PCD) T(PWT) U W, then our C(OW) Z(ERO). */
static int dump_leaf(void *ctx, const struct ptw_leaf *l)
{
	struct dumpctx *d = ctx;
	uint64_t e = l->pte;
	if (!room(d))
		return 0;
	uint32_t rc = 0, pins = 0;
	bool known = books_frame_counts(d->b, l->pa / COWVMM_PAGE_SIZE, &rc, &pins);
	fprintf(d->f, "  %016" PRIx64 ": %016" PRIx64 " %c%c%c%c%c%c%c%c%c %s%s", l->va, l->pa,
		e & COWVMM_PTE_NX ? 'X' : '-', e & COWVMM_PTE_G ? 'G' : '-', e & COWVMM_PTE_PS ? 'P' : '-',
		e & COWVMM_PTE_D ? 'D' : '-', e & COWVMM_PTE_A ? 'A' : '-', e & COWVMM_PTE_PCD ? 'C' : '-',
		e & COWVMM_PTE_PWT ? 'T' : '-', e & COWVMM_PTE_US ? 'U' : '-', e & COWVMM_PTE_RW ? 'W' : '-',
		l->cow ? "cow " : "    ", l->zero ? "zero " : "     ");
	if (known)
		fprintf(d->f, "refcount %u pins %u", rc, pins);
	else
		fprintf(d->f, "(frame not refcounted)");
	fputc('\n', d->f);
	return 0;
}

void ptdump(FILE *f, const struct books *b, int which)
{
	if (!b->valid) {
		fprintf(f, "page tables: the guest did not describe its memory\n");
		return;
	}
	struct dumpctx d = { .f = f, .b = b };
	int shown = 0;
	/* All processes: the threads of a group share one address space, dumped
	 * once, under its owner (books_as_sort()); the others name it.  Out of
	 * memory for the keys, every entry is dumped as before threads. */
	struct books_as_key *keys = NULL;
	size_t nkeys = 0;
	if (which < 0 && books_as_read(b, &keys, &nkeys))
		keys = NULL, nkeys = 0;
	for (uint32_t i = 0; i < b->d.nproc; i++) {
		struct guest_proc p;
		if (!books_proc(b, i, &p) || (which >= 0 && p.pid != which))
			continue;
		shown++;
		char group[40] = "";
		if (p.tgid != p.pid)
			snprintf(group, sizeof group, " (thread of %d)", p.tgid);
		fprintf(f, "pid %d%s (%s) ppid %d, %s, cr3 0x%" PRIx64 "\n", p.pid, group, p.name, p.ppid,
			cowvmm_pstate_name(p.state), p.cr3);
		if (!books_has_mm(p.state, p.cr3)) {
			fprintf(f, "  (no address space)\n");
			continue;
		}
		const struct books_as_key *own = books_as_find(keys, nkeys, books_root(p.cr3));
		if (own && own->idx != i) {
			fprintf(f, "  same address space as pid %d (not dumped again)\n", own->pid);
			continue;
		}
		fprintf(f, " info mem (user half; flags u/s r w/- x/- c=COW):\n");
		ptw_ranges(b->m, p.cr3, PTW_USER_LO, PTW_USER_HI, 0, dump_range, dump_fault, &d);
		section_end(&d);
		fprintf(f, " info tlb (flags X=NX G P=PS D A C=PCD T=PWT U W):\n");
		const struct ptw_ops ops = { .leaf = dump_leaf, .fault = dump_fault };
		ptw_walk(b->m, p.cr3, PTW_USER_LO, PTW_USER_HI, 0, &ops, &d);
		section_end(&d);
	}
	free(keys);
	if (!shown && which >= 0)
		fprintf(f, "page tables: no process with pid %d\n", which);
	else if (!shown)
		fprintf(f, "page tables: no live process\n");
}

/* ---- the module: --dump-pt PID|all[@WHEN] ---------------------------------- */

struct ptdump_state {
	bool asked;
	int pid;            /* -1 = all */
	enum { AT_FORK, AT_COW, AT_END, AT_SEQ } at;
	uint64_t seq;
	bool dumped;
};

static const struct vmm_module ptdump_module;

static struct ptdump_state *st(const struct vm *vm)
{
	return vm_state(vm, &ptdump_module);
}

static int bad(const char *what, const char *arg)
{
	fprintf(stderr, "vmm: invalid %s '%s'\nTry 'vmm --help'.\n", what, arg);
	return VMM_EXIT_USAGE;
}

/* PID|all[@fork|@cow|@end|@N] */
static int ptdump_option(struct vm *vm, int id, const char *arg)
{
	(void)id;
	struct ptdump_state *s = st(vm);
	char buf[64];
	s->asked = true;
	inspect_require(vm);
	snprintf(buf, sizeof buf, "%s", arg);
	char *at = strchr(buf, '@');
	if (at)
		*at++ = 0;
	if (!strcmp(buf, "all")) {
		s->pid = -1;
	} else {
		char *end;
		long v = strtol(buf, &end, 10);
		if (!*buf || *end || v <= 0 || v > 0x7fffffff)
			return bad("--dump-pt process (a pid or 'all')", arg);
		s->pid = (int)v;
	}
	s->at = AT_FORK;
	if (!at || !strcmp(at, "fork"))
		return 0;
	if (!strcmp(at, "cow")) {
		s->at = AT_COW;
	} else if (!strcmp(at, "end")) {
		s->at = AT_END;
	} else {
		char *end;
		unsigned long long n = strtoull(at, &end, 10);
		if (!*at || *end || n == 0)
			return bad("--dump-pt time (fork, cow, end or a checkpoint number)", arg);
		s->at = AT_SEQ;
		s->seq = n;
	}
	return 0;
}

static void do_dump(struct ptdump_state *s, const struct books *b, const char *when)
{
	fflush(stdout);
	printf("==== page tables (%s) ====\n", when);
	ptdump(stdout, b, s->pid);
	printf("==== end of page tables ====\n");
	fflush(stdout);
	s->dumped = true;
}

void ptdump_at_checkpoint(struct vm *vm, const struct books *b, const struct cowvmm_hc_inspect *cp,
			  uint64_t seq)
{
	struct ptdump_state *s = st(vm);
	if (!s->asked || s->dumped)
		return;
	if ((s->at == AT_FORK && cp->checkpoint == COWVMM_CP_FORK) ||
	    (s->at == AT_COW && cp->checkpoint == COWVMM_CP_COW_AFTER) || (s->at == AT_SEQ && seq == s->seq)) {
		char when[64];
		snprintf(when, sizeof when, "checkpoint %llu, %s", (unsigned long long)seq,
			 audit_checkpoint_name(cp->checkpoint));
		do_dump(s, b, when);
	}
}

void ptdump_at_end(struct vm *vm, const struct books *b)
{
	struct ptdump_state *s = st(vm);
	if (s->asked && !s->dumped)
		do_dump(s, b, "end of run");
}

static const struct vmm_option ptdump_options[] = {
	{ "dump-pt", true, 0 },
	{ NULL, false, 0 },
};

static void ptdump_usage(FILE *f)
{
	fprintf(f,
		"      --dump-pt PID|all[@WHEN]  print page tables (info mem / info tlb style,\n"
		"                        with COW flag and refcounts) at WHEN: fork (the\n"
		"                        first fork checkpoint, default), cow (the first COW\n"
		"                        fault), N (the Nth checkpoint) or end\n");
}

static const struct vmm_module ptdump_module = {
	.name = "ptdump",
	.order = 23,
	.state_size = sizeof(struct ptdump_state),
	.options = ptdump_options,
	.usage = ptdump_usage,
	.option = ptdump_option,
};
VMM_MODULE(ptdump_module);
