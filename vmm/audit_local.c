/* vmm/audit_local.c — cheap COW checkpoints: judge the writer's page, its frames and their sharers (reverse map), no global walk. */
#include <stdlib.h>
#include <string.h>

#include "audit_int.h"

#define PAGE_MASK (~(uint64_t)(COWVMM_PAGE_SIZE - 1))

/* ---- the reverse map ------------------------------------------------------
 * Built by every full walk: for each managed frame but the zero frame, the
 * (pid, va) pairs that mapped it.  Between full audits only a COW checkpoint
 * moves a mapping (old frame -> new frame); other changes (unmaps, exits,
 * frames freed and handed out again) leave stale entries, which is harmless
 * because each entry is translated again before it is believed.  What the map
 * can miss is a mapping made without a checkpoint: the only way to share a
 * frame is fork, whose checkpoint is always a full audit, and the counts
 * check below sends anything that does not add up to a full audit.
 * Threads: a mapping is entered once per address space, under the pid of
 * the entry whose walk counted it (audit_as_pid()).  When that owner changes
 * (the leader exits), its entries go stale like the others: the counts do
 * not add up and the full audit decides. */

void rmap_reset(struct audit *a)
{
	memset(a->rmap_head, 0, a->bk.d.nframes * sizeof *a->rmap_head);
	a->rmap_n = 0;
	a->rmap_valid = true;
}

void rmap_add(struct audit *a, uint64_t frame, int32_t pid, uint64_t va)
{
	if (!a->rmap_valid || frame >= a->bk.d.nframes)
		return;
	if (a->rmap_n == a->rmap_cap) {
		size_t cap = a->rmap_cap ? 2 * a->rmap_cap : 4096;
		struct rmap_ent *v = cap > UINT32_MAX - 1 ? NULL : realloc(a->rmap, cap * sizeof *v);
		if (!v) {
			a->rmap_valid = false; /* every COW checkpoint walks until the next full audit */
			return;
		}
		a->rmap = v;
		a->rmap_cap = cap;
	}
	a->rmap[a->rmap_n] = (struct rmap_ent){ pid, a->rmap_head[frame], va };
	a->rmap_head[frame] = (uint32_t)++a->rmap_n;
}

static void rmap_unlink(struct audit *a, uint64_t frame, int32_t pid, uint64_t va)
{
	for (uint32_t *link = &a->rmap_head[frame]; *link; link = &a->rmap[*link - 1].next) {
		struct rmap_ent *e = &a->rmap[*link - 1];
		if (e->pid == pid && e->va == va) {
			*link = e->next;
			return;
		}
	}
}

/* ---- the local checks -------------------------------------------------------- */

/* Fill the snapshot's sharers: the reverse map's mappings of the frame that
 * still map it now (the writer's own excepted), read-only as a shared frame's
 * must be.  Returns the number found. */
static size_t find_sharers(struct audit *a, struct cow_snapshot *s)
{
	int32_t own = audit_as_pid(a, s->pid); /* a thread's mapping is in the map under its owner's pid */
	for (uint32_t i = a->rmap_head[s->frame]; i; i = a->rmap[i - 1].next) {
		const struct rmap_ent *e = &a->rmap[i - 1];
		if (e->pid == own && e->va == s->va)
			continue;
		struct audit_proc *q = audit_find_proc(a, e->pid);
		struct ptw_leaf l;
		uint64_t gpa;
		if (!q || !books_has_mm(q->state, q->cr3) ||
		    ptw_translate(a->m, q->cr3, e->va, &l, &gpa, NULL) != PTW_E_NONE ||
		    gpa / COWVMM_PAGE_SIZE != s->frame)
			continue; /* stale */
		if (s->nsharers < MAX_SHARERS)
			s->sharer[s->nsharers++] = (struct sharer){ e->pid, e->va, l.pte };
		else
			s->sharers_truncated = true;
		if (l.eff & PTW_EFF_W)
			av(a, AV_SHARED_WRITABLE, e->pid, s->pid, e->va, l.pte, s->pte, s->frame, 0, 1,
			   "writable PTE maps frame 0x%llx, which pid %d is about to copy (COW fault)",
			   (unsigned long long)s->frame, s->pid);
	}
	return s->nsharers;
}

/* PTE references of frame f as the guest books them (refcount - pins). */
static bool refs_of(struct audit *a, uint64_t f, uint32_t *refs)
{
	uint32_t rc, pins;
	if (!books_frame_counts(&a->bk, f, &rc, &pins) || rc < pins)
		return false;
	*refs = rc - pins;
	return true;
}

static bool local_before(struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	cp_prepare(a, cp); /* the snapshot of the page: PTE, frame, counts, bytes */
	a->watch_frame = NO_FRAME;
	struct cow_snapshot *s = &a->before;
	if (!s->valid || s->frame == a->bk.d.zero_frame || s->frame < a->bk.d.first_frame || a->nv_total)
		return false;
	uint32_t refs;
	if (!refs_of(a, s->frame, &refs) || s->sharers_truncated)
		return false;
	/* The books say `refs` PTEs map the frame: the writer's and one per sharer. */
	if (find_sharers(a, s) + 1 != refs || s->sharers_truncated)
		return false;
	cp_check(a, cp); /* the writer's PTE as a COW fault needs it */
	return true;
}

static bool local_after(struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	const struct cow_snapshot *s = &a->before;
	uint64_t fo = cp->frame_old, fn = cp->frame_new;
	if (!s->valid || s->pid != cp->pid || s->va != (cp->va & PAGE_MASK) || s->frame != fo ||
	    fo >= a->bk.d.nframes || fn >= a->bk.d.nframes || fn < a->bk.d.first_frame || a->nv_total)
		return false;
	uint32_t refs_old, refs_new;
	if (!refs_of(a, fo, &refs_old) || !refs_of(a, fn, &refs_new))
		return false;
	/* A copy leaves the sharers on the old frame and the writer alone on the
	 * new one; a reuse leaves the writer alone on its frame.  Anything else
	 * is for the full audit to explain. */
	if (fn != fo && (refs_old != s->nsharers || refs_new != 1))
		return false;
	if (fn == fo && (refs_old != 1 || s->nsharers))
		return false;
	cp_check(a, cp); /* check_cow_after(): writer, copy, counts, sharers unchanged */
	if (fn != fo) {
		int32_t own = audit_as_pid(a, cp->pid);
		rmap_unlink(a, fo, own, s->va);
		rmap_add(a, fn, own, cp->va & PAGE_MASK);
	}
	return true;
}

bool local_cow(struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	if (!a->rmap_valid)
		return false;
	a->collect_pid[0] = a->collect_pid[1] = 0;
	a->collect = NULL;
	if (cp->checkpoint == COWVMM_CP_COW_BEFORE)
		return local_before(a, cp);
	if (cp->checkpoint == COWVMM_CP_COW_AFTER)
		return local_after(a, cp);
	return false;
}
