/* vmm/audit_cp.c — checks of each checkpoint kind: fork sharing, COW resolution (before/after), exit. */
#include <string.h>

#include "audit_int.h"

#define PAGE_MASK (~(uint64_t)(COWVMM_PAGE_SIZE - 1))
/* Bits hardware may change behind the kernel's back: not a "change" of a sharer. */
#define HW_BITS (COWVMM_PTE_A | COWVMM_PTE_D)

/* The live process `pid` with an address space, or NULL after recording why not. */
static struct audit_proc *need_proc(struct audit *a, int32_t pid, const char *role)
{
	struct audit_proc *p = audit_find_proc(a, pid);
	if (!p || !books_has_mm(p->state, p->cr3)) {
		av(a, AV_PROC, pid, 0, 0, 0, 0, NO_FRAME, 0, 0,
		   "checkpoint names %s pid %d, which has no address space in the process table", role, pid);
		return NULL;
	}
	return p;
}

/* Frame of the 4 KiB page at va, or NO_FRAME; the leaf in *l. */
static uint64_t frame_at(struct audit *a, uint64_t cr3, uint64_t va, struct ptw_leaf *l)
{
	uint64_t gpa;
	if (ptw_translate(a->m, cr3, va, l, &gpa, NULL) != PTW_E_NONE)
		return NO_FRAME;
	return gpa / COWVMM_PAGE_SIZE;
}

void cp_prepare(struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	a->collect_pid[0] = a->collect_pid[1] = 0;
	a->fork_a.n = a->fork_b.n = 0;
	a->collect_failed = false;
	a->watch_frame = NO_FRAME;
	/* The walks go by address space: a thread's leaves are its owner's. */
	if (cp->checkpoint == COWVMM_CP_FORK && cp->pid && cp->pid2 && cp->pid != cp->pid2) {
		a->collect_pid[0] = audit_as_pid(a, cp->pid);
		a->collect_pid[1] = audit_as_pid(a, cp->pid2);
	}
	if (cp->checkpoint != COWVMM_CP_COW_BEFORE)
		return;
	/* Remember the page, its books and its other mappings for CP_COW_AFTER. */
	struct cow_snapshot *s = &a->before;
	s->valid = false;
	s->nsharers = 0;
	s->sharers_truncated = false;
	struct audit_proc *p = need_proc(a, cp->pid, "faulting");
	struct ptw_leaf l;
	uint64_t f = p ? frame_at(a, p->cr3, cp->va, &l) : NO_FRAME;
	const void *data = f != NO_FRAME ? gmem_ptr(a->m, f * COWVMM_PAGE_SIZE, COWVMM_PAGE_SIZE) : NULL;
	if (!data || !books_frame_counts(&a->bk, f, &s->refcount, &s->pins))
		return; /* not mapped yet: nothing to compare with (not a COW page) */
	s->valid = true;
	s->pid = cp->pid;
	s->va = cp->va & PAGE_MASK;
	s->pte = l.pte;
	s->frame = f;
	memcpy(s->data, data, COWVMM_PAGE_SIZE);
	a->watch_frame = f;
	a->watch_pid = audit_as_pid(a, cp->pid); /* the writer's own mapping, walked under its owner's pid */
	a->watch_va = s->va;
}

/* ---- regions (when the descriptor has them) ---------------------------- */

/* The regions of process `pid`, copied out of its group leader's entry (its
 * own without threads; a ZOMBIE leader's slot still holds them).  A group
 * without a leader has none: read_procs() said so. */
static void read_regions(struct audit *a, int32_t pid, struct regions *out)
{
	out->n = -1;
	const struct cowvmm_hc_describe *d = &a->bk.d;
	if (!d->off_regions)
		return;
	struct guest_proc p;
	uint32_t i;
	const uint8_t *e;
	if (books_find_leader(&a->bk, pid, &p, &i) && (e = books_proc_entry(&a->bk, i))) {
		int32_t n;
		memcpy(&n, e + d->off_nregions, 4);
		if (n < 0 || (uint32_t)n > d->max_regions || n > MAX_REGIONS) {
			av(a, AV_PROC, p.pid, pid == p.pid ? 0 : pid, 0, 0, 0, NO_FRAME, d->max_regions,
			   (uint64_t)(uint32_t)n, "process entry says it has %d regions (at most %u)", n, d->max_regions);
			return;
		}
		for (int k = 0; k < n; k++)
			memcpy(&out->r[k], e + d->off_regions + (uint64_t)k * d->region_stride, sizeof out->r[k]);
		out->n = n;
		return;
	}
}

static const struct cowvmm_region *region_of(const struct regions *rs, uint64_t va)
{
	for (int k = 0; k < rs->n; k++)
		if (va >= rs->r[k].start && va < rs->r[k].end)
			return &rs->r[k];
	return NULL;
}

/* After fork, a page's PTE must say what its region allows: a page of a
 * writable region is shared read-only with the COW flag (or maps the zero
 * frame), so a missing COW flag there is a lost write permission; a page of
 * text or rodata is read-only without COW.  (A data region made read-only by
 * mprotect keeps its pages' COW flags in this kernel: harmless, the region
 * refuses the write before COW is considered, so not checked.) */
static void check_region(struct audit *a, int32_t pid, int32_t other, const struct regions *rs,
			 const struct leafrec *x)
{
	const struct cowvmm_region *r = region_of(rs, x->va);
	if (!r) {
		av(a, AV_REGION, pid, other, x->va, x->pte, 0, x->frame, 0, 0, "page mapped outside every region");
		return;
	}
	bool cow = x->pte & COWVMM_PTE_COW, zero = x->pte & COWVMM_PTE_ZERO;
	if ((r->prot & COWVMM_PROT_WRITE) && !cow && !zero)
		av(a, AV_REGION, pid, other, x->va, x->pte, 0, x->frame, 1, 0,
		   "page of a writable region (prot %u, [0x%llx, 0x%llx)) is read-only without the COW flag after fork",
		   r->prot, (unsigned long long)r->start, (unsigned long long)r->end);
	else if (!(r->prot & COWVMM_PROT_WRITE) && (x->pte & COWVMM_PTE_RW))
		av(a, AV_REGION, pid, other, x->va, x->pte, 0, x->frame, 0, 1,
		   "page of a read-only region (prot %u) is writable", r->prot);
	else if ((r->kind == COWVMM_REGION_TEXT || r->kind == COWVMM_REGION_RODATA) && cow)
		av(a, AV_REGION, pid, other, x->va, x->pte, 0, x->frame, 0, 1,
		   "page of a %s region has the COW flag", r->kind == COWVMM_REGION_TEXT ? "text" : "rodata");
}

/* Parent and child must map the same frames, read-only, with the same flags. */
static void check_fork(struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	struct audit_proc *par = need_proc(a, cp->pid, "parent"), *chi = need_proc(a, cp->pid2, "child");
	if (!par || !chi)
		return;
	if (books_root(par->cr3) == books_root(chi->cr3)) {
		/* A thread shares its creator's tables; a forked child never does. */
		av(a, AV_FORK, cp->pid, cp->pid2, 0, 0, 0, books_root(chi->cr3) / COWVMM_PAGE_SIZE, 0, 1,
		   "the child runs on its parent's page tables (0x%llx): fork must give it its own",
		   (unsigned long long)books_root(chi->cr3));
		return;
	}
	if (a->collect_failed) {
		av(a, AV_PROC, cp->pid, cp->pid2, 0, 0, 0, NO_FRAME, 0, 0,
		   "out of memory in the VMM: fork comparison not done");
		return;
	}
	const struct leafvec *pa = &a->fork_a, *ch = &a->fork_b;
	struct regions *rp = &a->fork_regions[0], *rc = &a->fork_regions[1];
	read_regions(a, cp->pid, rp);
	read_regions(a, cp->pid2, rc);
	if (rp->n >= 0 && (rc->n != rp->n || memcmp(rp->r, rc->r, (size_t)rp->n * sizeof rp->r[0])))
		av(a, AV_FORK, cp->pid, cp->pid2, 0, 0, 0, NO_FRAME, (uint64_t)rp->n, (uint64_t)(uint32_t)rc->n,
		   "the child's regions differ from the parent's (%d and %d regions)", rp->n, rc->n);
	for (size_t k = 0; rp->n >= 0 && k < pa->n; k++)
		check_region(a, cp->pid, cp->pid2, rp, &pa->v[k]);
	for (size_t k = 0; rc->n >= 0 && k < ch->n; k++)
		check_region(a, cp->pid2, cp->pid, rc, &ch->v[k]);
	size_t i = 0, j = 0;
	const uint64_t same = COWVMM_PTE_COW | COWVMM_PTE_ZERO | COWVMM_PTE_US | COWVMM_PTE_NX |
			      COWVMM_PTE_ADDR;
	while (i < pa->n || j < ch->n) {
		const struct leafrec *x = i < pa->n ? &pa->v[i] : NULL;
		const struct leafrec *y = j < ch->n ? &ch->v[j] : NULL;
		if (x && (!y || x->va < y->va)) {
			av(a, AV_FORK, cp->pid, cp->pid2, x->va, x->pte, 0, x->frame, 1, 0,
			   "page mapped in the parent but not in the child");
			i++;
			continue;
		}
		if (y && (!x || y->va < x->va)) {
			av(a, AV_FORK, cp->pid2, cp->pid, y->va, y->pte, 0, y->frame, 1, 0,
			   "page mapped in the child but not in the parent");
			j++;
			continue;
		}
		if (x->frame != y->frame)
			av(a, AV_FORK, cp->pid, cp->pid2, x->va, x->pte, y->pte, x->frame, x->frame, y->frame,
			   "parent maps frame 0x%llx, child maps frame 0x%llx: not shared",
			   (unsigned long long)x->frame, (unsigned long long)y->frame);
		else if ((x->pte ^ y->pte) & same)
			av(a, AV_FORK, cp->pid, cp->pid2, x->va, x->pte, y->pte, x->frame, 0, 0,
			   "parent and child PTEs differ in COW/ZERO/US/NX");
		if ((x->pte | y->pte) & COWVMM_PTE_RW)
			av(a, AV_FORK, (x->pte & COWVMM_PTE_RW) ? cp->pid : cp->pid2,
			   (x->pte & COWVMM_PTE_RW) ? cp->pid2 : cp->pid, x->va, x->pte, y->pte, x->frame, 0, 1,
			   "%s PTE still writable after fork", (x->pte & COWVMM_PTE_RW) ? "parent's" : "child's");
		i++;
		j++;
	}
}

/* A write fault on a COW page: the PTE the guest is about to resolve must be
 * a present, user, read-only PTE with the COW flag (or the ZERO flag: a write
 * to the shared zero frame is a copy too); anything else is not a COW fault. */

static void check_cow_before(struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	const struct cow_snapshot *s = &a->before;
	if (!s->valid || s->pid != cp->pid) {
		/* A COW fault on a page the writer does not map is no COW fault
		 * (need_proc() already said so if the writer itself is missing). */
		struct audit_proc *p = audit_find_proc(a, cp->pid);
		if (p && books_has_mm(p->state, p->cr3))
			av(a, AV_COW, cp->pid, 0, cp->va, 0, 0, NO_FRAME, 1, 0,
			   "COW fault checkpoint at 0x%llx, which pid %d does not map to a managed frame",
			   (unsigned long long)cp->va, cp->pid);
		return;
	}
	uint64_t want = COWVMM_PTE_P | COWVMM_PTE_US;
	if ((s->pte & want) != want || (s->pte & COWVMM_PTE_RW) ||
	    !(s->pte & (COWVMM_PTE_COW | COWVMM_PTE_ZERO)))
		av(a, AV_COW, cp->pid, 0, s->va, s->pte, 0, s->frame, 0, 1,
		   "COW fault on a PTE that is not a present, user, read-only COW (or zero-frame) PTE");
}

/* Does another live thread share pid's address space (same root)?  Read
 * from the guest's table now, with every vCPU stopped. */
static bool as_has_other_thread(const struct audit *a, int32_t pid, uint64_t cr3)
{
	struct guest_proc g;
	for (uint32_t k = 0; k < a->bk.d.nproc; k++)
		if (books_proc(&a->bk, k, &g) && g.pid != pid && books_has_mm(g.state, g.cr3) &&
		    books_root(g.cr3) == books_root(cr3))
			return true;
	return false;
}

/* A COW fault resolved: new frame writable and dirty, an exact copy (the
 * write has not been retried yet), old frame's count one less, others intact.
 * "An exact copy" only holds for a process of one thread: once the new PTE
 * is in place a sibling thread on another vCPU may write through it before
 * this checkpoint stops it (no lock is needed to write a writable page) --
 * seen with cowtest smpwrite2 audited on two vCPUs, byte 1 being the
 * sibling's.  So with other threads the copy is not compared. */
static void check_cow_after(struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	struct cow_snapshot *s = &a->before;
	bool have = s->valid && s->pid == cp->pid && s->va == (cp->va & PAGE_MASK);
	s->valid = false;
	struct audit_proc *p = need_proc(a, cp->pid, "faulting");
	if (!p)
		return;
	uint64_t fo = cp->frame_old, fn = cp->frame_new, va = cp->va;
	if (fo >= a->bk.d.nframes || fn >= a->bk.d.nframes) {
		av(a, AV_PROC, cp->pid, 0, va, 0, 0, NO_FRAME, a->bk.d.nframes, fo >= a->bk.d.nframes ? fo : fn,
		   "checkpoint frames 0x%llx -> 0x%llx outside the %llu frames", (unsigned long long)fo,
		   (unsigned long long)fn, (unsigned long long)a->bk.d.nframes);
		return;
	}
	struct ptw_leaf l;
	uint64_t f = frame_at(a, p->cr3, va, &l);
	if (f == NO_FRAME) {
		av(a, AV_COW, cp->pid, 0, va, 0, 0, fn, fn, 0, "writer's page is not mapped after the fault");
		return;
	}
	if (f != fn)
		av(a, AV_COW, cp->pid, 0, va, l.pte, 0, f, fn, f,
		   "writer's PTE maps frame 0x%llx, the guest reported frame 0x%llx",
		   (unsigned long long)f, (unsigned long long)fn);
	if (!(l.pte & COWVMM_PTE_RW) || !(l.eff & PTW_EFF_W))
		av(a, AV_COW, cp->pid, 0, va, l.pte, 0, f, 1, 0, "writer's PTE is not writable after the fault");
	if (!(l.pte & COWVMM_PTE_D))
		av(a, AV_COW, cp->pid, 0, va, l.pte, 0, f, 1, 0, "writer's PTE is not dirty after the fault");
	if (l.pte & (COWVMM_PTE_COW | COWVMM_PTE_ZERO))
		av(a, AV_COW, cp->pid, 0, va, l.pte, 0, f, 0, 1, "writer's PTE keeps the COW or ZERO flag");
	if (have && s->frame != fo)
		av(a, AV_COW, cp->pid, 0, va, s->pte, l.pte, fo, s->frame, fo,
		   "the page mapped frame 0x%llx before the fault, the guest reported 0x%llx as the old frame",
		   (unsigned long long)s->frame, (unsigned long long)fo);
	const uint8_t *old = gmem_ptr(a->m, fo * COWVMM_PAGE_SIZE, COWVMM_PAGE_SIZE);
	const uint8_t *new = gmem_ptr(a->m, fn * COWVMM_PAGE_SIZE, COWVMM_PAGE_SIZE);
	if (have && old && memcmp(old, s->data, COWVMM_PAGE_SIZE))
		av(a, AV_COW, cp->pid, 0, va, s->pte, l.pte, fo, 0, 1,
		   "the old (shared) frame changed while the fault was resolved");
	uint32_t rc = 0, pins = 0;
	if (fn == fo) {
		books_frame_counts(&a->bk, fn, &rc, &pins);
		if (rc != 1)
			av(a, AV_COW, cp->pid, 0, va, l.pte, 0, fn, 1, rc,
			   "frame reused in place but its refcount is %u (pins %u), not 1", rc, pins);
		if (have && s->refcount != 1)
			av(a, AV_COW, cp->pid, 0, va, s->pte, l.pte, fn, 1, s->refcount,
			   "frame reused although it had refcount %u before the fault", s->refcount);
	} else {
		if (have && s->refcount == 1 && fo != a->bk.d.zero_frame)
			av(a, AV_COW, cp->pid, 0, va, s->pte, l.pte, fo, fo, fn,
			   "frame copied although its refcount was 1 before the fault (reuse expected)");
		if (old && new && memcmp(old, new, COWVMM_PAGE_SIZE) && !as_has_other_thread(a, cp->pid, p->cr3)) {
			unsigned first = 0, ndiff = 0;
			for (unsigned i = COWVMM_PAGE_SIZE; i-- > 0;)
				if (old[i] != new[i])
					ndiff++, first = i;
			av(a, AV_COW, cp->pid, 0, va, l.pte, 0, fn, 0, ndiff,
			   "the copy differs from the old frame 0x%llx in %u byte(s), first at offset %u",
			   (unsigned long long)fo, ndiff, first);
		}
		/* Not rc != refcount - 1: from a count of 0 (a free frame was
		 * mapped) that wraps, and a count that wrapped too would pass. */
		if (have && books_frame_counts(&a->bk, fo, &rc, &pins) && (uint64_t)rc + 1 != s->refcount)
			av(a, AV_COW, cp->pid, 0, va, s->pte, 0, fo, s->refcount ? s->refcount - 1 : 0, rc,
			   "old frame's refcount went from %u to %u, not down by one", s->refcount, rc);
	}
	if (!have)
		return;
	/* Every other mapping of the old frame is exactly as before. */
	for (size_t i = 0; i < s->nsharers; i++) {
		const struct sharer *o = &s->sharer[i];
		struct audit_proc *q = audit_find_proc(a, o->pid);
		struct ptw_leaf ql;
		uint64_t qf = q && books_has_mm(q->state, q->cr3) ? frame_at(a, q->cr3, o->va, &ql) : NO_FRAME;
		if (qf == NO_FRAME || (ql.pte & ~HW_BITS) != (o->pte & ~HW_BITS))
			av(a, AV_COW, o->pid, cp->pid, o->va, o->pte, qf == NO_FRAME ? 0 : ql.pte, s->frame, 0, 1,
			   "another sharer's PTE changed during pid %d's COW fault", cp->pid);
	}
}

void cp_check(struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	switch (cp->checkpoint) {
	case COWVMM_CP_FORK:
		check_fork(a, cp);
		break;
	case COWVMM_CP_COW_BEFORE:
		check_cow_before(a, cp);
		break;
	case COWVMM_CP_COW_AFTER:
		check_cow_after(a, cp);
		break;
	case COWVMM_CP_EXIT: {
		struct audit_proc *p = audit_find_proc(a, cp->pid);
		if (p && books_has_mm(p->state, p->cr3))
			av(a, AV_PROC, cp->pid, 0, 0, 0, 0, NO_FRAME, 0, p->cr3,
			   "exit checkpoint, but the process still has page tables at 0x%llx",
			   (unsigned long long)p->cr3);
		break;
	}
	default:
		break; /* BOOT, USER: the global audit is the check */
	}
}
