/* vmm/ptdump.c — --dump-pt: a process's page tables in QEMU's `info mem` / `info tlb` styles, with COW flag and refcounts. */
#include <inttypes.h>
#include <stdio.h>

#include "audit_int.h"

static const char *const state_names[] = { "unused", "embryo", "runnable", "running", "sleeping", "zombie" };

struct dumpctx {
	FILE *f;
	struct audit *a;
};

static int dump_range(void *ctx, const struct ptw_range *r)
{
	struct dumpctx *d = ctx;
	char fl[8];
	fprintf(d->f, "  %016" PRIx64 "-%016" PRIx64 " %016" PRIx64 " %s\n", r->va, r->end,
		r->end - r->va, ptw_flags_str(r->eff, r->cow, fl));
	return 0;
}

static int dump_fault(void *ctx, const struct ptw_fault *f)
{
	struct dumpctx *d = ctx;
	fprintf(d->f, "  !! %016" PRIx64 ": %s (level-%d entry 0x%016" PRIx64 " at 0x%" PRIx64 ")\n", f->va,
		ptw_error_name(f->err), f->level, f->entry, f->entry_gpa);
	return 0;
}

/* `info tlb` flags: X(NX) G P(S) D A C(PCD) T(PWT) U W, then our C(OW) Z(ERO). */
static int dump_leaf(void *ctx, const struct ptw_leaf *l)
{
	struct dumpctx *d = ctx;
	uint64_t e = l->pte;
	uint32_t rc = 0, pins = 0;
	bool known = audit_frame_counts(d->a, l->pa / COWVMM_PAGE_SIZE, &rc, &pins);
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

void ptdump(FILE *f, struct audit *a, int which)
{
	const struct cowvmm_hc_describe *desc = audit_descriptor(a);
	if (!desc) {
		fprintf(f, "page tables: the guest did not describe its memory\n");
		return;
	}
	struct dumpctx d = { f, a };
	int shown = 0;
	for (uint32_t i = 0; i < desc->nproc; i++) {
		struct audit_proc p;
		if (!audit_proc_entry(a, i, &p) || (which >= 0 && p.pid != which))
			continue;
		shown++;
		fprintf(f, "pid %d (%s) ppid %d, %s, cr3 0x%" PRIx64 "\n", p.pid, p.name, p.ppid,
			p.state < 6 ? state_names[p.state] : "?", p.cr3);
		if (p.state == COWVMM_PSTATE_ZOMBIE || !(p.cr3 & COWVMM_PTE_ADDR)) {
			fprintf(f, "  (no address space)\n");
			continue;
		}
		fprintf(f, " info mem (user half; flags u/s r w/- x/- c=COW):\n");
		ptw_ranges(a->m, p.cr3, PTW_USER_LO, PTW_USER_HI, 0, dump_range, dump_fault, &d);
		fprintf(f, " info tlb (flags X=NX G P=PS D A C=PCD T=PWT U W):\n");
		const struct ptw_ops ops = { .leaf = dump_leaf, .fault = dump_fault };
		ptw_walk(a->m, p.cr3, PTW_USER_LO, PTW_USER_HI, 0, &ops, &d);
	}
	if (!shown && which >= 0)
		fprintf(f, "page tables: no process with pid %d\n", which);
	else if (!shown)
		fprintf(f, "page tables: no live process\n");
}
