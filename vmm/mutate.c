/* vmm/mutate.c — deliberately break one COW invariant in guest memory, so the tests can show the audit catches it. */
#include <stdio.h>
#include <string.h>

#include "audit_int.h"

/* dirty-old is applied by inspect.c (it needs KVM): mutate_apply() ignores it. */
const char *const mutate_kinds[] = { "writable", "leak", "drop", "free-map", "dirty-old", NULL };

bool mutate_kind_valid(const char *kind)
{
	for (int i = 0; mutate_kinds[i]; i++)
		if (!strcmp(kind, mutate_kinds[i]))
			return true;
	return false;
}

/* The first leaf with the COW flag (a shared, formerly writable page). */
struct find {
	struct ptw_leaf l;
	bool found;
};

static int first_cow(void *ctx, const struct ptw_leaf *l)
{
	struct find *f = ctx;
	if (!l->cow || l->level != 1)
		return 0;
	f->l = *l;
	f->found = true;
	return 1;
}

static uint32_t *refcount_ptr(struct audit *a, uint64_t frame)
{
	const struct cowvmm_hc_describe *d = audit_descriptor(a);
	if (!d || frame >= d->nframes)
		return NULL;
	return gmem_ptr(a->m, d->refcount_gpa + 4 * frame, 4);
}

/* A managed frame with refcount 0 that is not the zero frame: the highest one. */
static uint64_t free_frame(struct audit *a)
{
	const struct cowvmm_hc_describe *d = audit_descriptor(a);
	for (uint64_t f = d->nframes; f-- > d->first_frame;) {
		uint32_t rc, pins;
		if (f != d->zero_frame && audit_frame_counts(a, f, &rc, &pins) && rc == 0)
			return f;
	}
	return 0;
}

bool mutate_apply(struct audit *a, const char *kind, const struct cowvmm_hc_inspect *cp,
		  char *what, size_t n)
{
	struct audit_proc p;
	const struct cowvmm_hc_describe *d = audit_descriptor(a);
	if (!d || cp->checkpoint != COWVMM_CP_FORK)
		return false;
	/* The parent's entry: a fork checkpoint names it in cp->pid. */
	bool have = false;
	for (uint32_t i = 0; i < d->nproc && !have; i++)
		have = audit_proc_entry(a, i, &p) && p.pid == cp->pid && (p.cr3 & COWVMM_PTE_ADDR);
	if (!have)
		return false;
	struct find f = { .found = false };
	const struct ptw_ops ops = { .leaf = first_cow };
	ptw_walk(a->m, p.cr3, PTW_USER_LO, PTW_USER_HI, 0, &ops, &f);
	if (!f.found)
		return false;
	uint64_t frame = f.l.pa / COWVMM_PAGE_SIZE;
	uint64_t *pte = gmem_ptr(a->m, f.l.pte_gpa, 8);
	uint32_t *rc = refcount_ptr(a, frame);
	if (!pte || !rc)
		return false;
	if (!strcmp(kind, "writable")) {
		*pte = (*pte | COWVMM_PTE_RW) & ~COWVMM_PTE_COW;
		snprintf(what, n, "made pid %d's COW page at 0x%llx (frame 0x%llx) writable", p.pid,
			 (unsigned long long)f.l.va, (unsigned long long)frame);
	} else if (!strcmp(kind, "leak")) {
		(*rc)++;
		snprintf(what, n, "leaked a reference: frame 0x%llx refcount %u -> %u", (unsigned long long)frame,
			 *rc - 1, *rc);
	} else if (!strcmp(kind, "drop")) {
		(*rc)--;
		snprintf(what, n, "dropped a reference: frame 0x%llx refcount %u -> %u", (unsigned long long)frame,
			 *rc + 1, *rc);
	} else if (!strcmp(kind, "free-map")) {
		uint64_t ff = free_frame(a);
		if (!ff)
			return false;
		/* The frame it mapped loses the reference, as a buggy remap would do. */
		(*rc)--;
		*pte = (*pte & ~COWVMM_PTE_ADDR) | ff * COWVMM_PAGE_SIZE;
		snprintf(what, n, "pointed pid %d's PTE at 0x%llx to free frame 0x%llx (was 0x%llx)", p.pid,
			 (unsigned long long)f.l.va, (unsigned long long)ff, (unsigned long long)frame);
	} else {
		return false;
	}
	return true;
}
