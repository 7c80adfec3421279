/* vmm/audit_dirty.c — what KVM's dirty log must show between CP_COW_BEFORE and CP_COW_AFTER (pure: the bitmap is handed in). */
#include "audit_int.h"

static bool is_dirty(const uint64_t *dirty, uint64_t nbits, uint64_t f)
{
	return f < nbits && (dirty[f / 64] >> (f % 64)) & 1;
}

/* The guest may only resolve a COW fault by writing the new frame (the copy)
 * and the writer's PTE; it reads the shared old frame and never writes it.
 * KVM's log sees every guest write, including ones a buggy kernel would make
 * and put back before the checkpoint (the content check cannot see those). */
unsigned audit_dirty_check(struct audit *a, const struct cowvmm_hc_inspect *cp,
			   const uint64_t *dirty, uint64_t nbits)
{
	uint64_t before = a->nv_total;
	if (cp->checkpoint != COWVMM_CP_COW_AFTER || !a->bk.valid)
		return 0;
	struct audit_proc *p = audit_find_proc(a, cp->pid);
	struct ptw_leaf l;
	uint64_t gpa;
	if (!p || !books_has_mm(p->state, p->cr3) ||
	    ptw_translate(a->m, p->cr3, cp->va, &l, &gpa, NULL) != PTW_E_NONE)
		return 0; /* the audit already said the writer's page is missing */
	uint64_t fo = cp->frame_old, fn = cp->frame_new, pt = l.pte_gpa / COWVMM_PAGE_SIZE;
	if (!is_dirty(dirty, nbits, pt))
		av(a, AV_DIRTY, cp->pid, 0, cp->va, l.pte, 0, pt, 1, 0,
		   "the writer's page-table page 0x%llx was not written during the COW fault (dirty log)",
		   (unsigned long long)(pt * COWVMM_PAGE_SIZE));
	if (fn != fo) {
		if (!is_dirty(dirty, nbits, fn))
			av(a, AV_DIRTY, cp->pid, 0, cp->va, l.pte, 0, fn, 1, 0,
			   "the new frame 0x%llx was not written during the COW copy (dirty log)",
			   (unsigned long long)fn);
		if (is_dirty(dirty, nbits, fo))
			av(a, AV_DIRTY, cp->pid, 0, cp->va, l.pte, 0, fo, 0, 1,
			   "the shared old frame 0x%llx was written during the COW copy (dirty log)",
			   (unsigned long long)fo);
	}
	return (unsigned)(a->nv_total - before);
}
