/* vmm/audit.c — the global COW audit: walk every live address space, count PTEs per frame, compare with the guest's books. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_int.h"
#include "cowvmm/names.h"

static const char *const kind_names[AV_COUNT] = {
	[AV_REFCOUNT] = "refcount",
	[AV_FREE_MAPPED] = "free-frame-mapped",
	[AV_SHARED_WRITABLE] = "shared-writable",
	[AV_COW_WRITABLE] = "cow-writable",
	[AV_FREE_COUNT] = "free-count",
	[AV_TABLE_SHARED] = "table-shared",
	[AV_TABLE_AS_DATA] = "table-as-data",
	[AV_TABLE_FREE] = "table-free",
	[AV_UNMANAGED] = "unmanaged-frame",
	[AV_PT_BROKEN] = "page-table-broken",
	[AV_ZERO] = "zero-frame",
	[AV_FORK] = "fork",
	[AV_COW] = "cow",
	[AV_PROC] = "process-table",
	[AV_TRANSLATE] = "translate-mismatch",
	[AV_DIRTY] = "dirty-log",
	[AV_REGION] = "region",
	[AV_CPU_CR3] = "cpu-cr3",
};

const char *audit_kind_name(enum audit_kind k)
{
	return (unsigned)k < AV_COUNT ? kind_names[k] : "?";
}

const char *audit_checkpoint_name(uint32_t cp)
{
	return cowvmm_checkpoint_name(cp);
}

struct audit *audit_new(const struct gmem *m)
{
	struct audit *a = calloc(1, sizeof *a);
	if (a) {
		a->m = m;
		a->full_every = 1; /* every checkpoint walks everything unless told otherwise */
	}
	return a;
}

void audit_free(struct audit *a)
{
	if (!a)
		return;
	free(a->mapcount);
	free(a->table_owner);
	free(a->procs);
	free(a->as_owner);
	free(a->keys);
	free(a->fork_a.v);
	free(a->fork_b.v);
	free(a->rmap_head);
	free(a->rmap);
	free(a);
}

int audit_set_descriptor(struct audit *a, const struct cowvmm_hc_describe *d, char *err, size_t n)
{
	/* describe_validate() did the full check; these are the facts this file relies on. */
	if (d->nframes == 0 || d->nframes > a->m->size / COWVMM_PAGE_SIZE || d->nproc == 0 ||
	    d->proc.stride == 0 || d->refcount_gpa % 4 || d->pins_gpa % 4 || d->free_count_gpa % 8) {
		snprintf(err, n, "descriptor not usable for auditing (nframes %llu, nproc %u)",
			 (unsigned long long)d->nframes, d->nproc);
		return -1;
	}
	/* Regions (optional): the whole array and the count inside one entry. */
	if (d->off_regions && (d->region_stride < sizeof(struct cowvmm_region) || d->max_regions == 0 ||
			       d->max_regions > 4096 || d->region_stride > 4096 ||
			       d->off_regions > d->proc.stride ||
			       (uint64_t)d->max_regions * d->region_stride > d->proc.stride - d->off_regions ||
			       d->off_nregions > d->proc.stride - 4)) {
		snprintf(err, n, "region description does not fit a process entry (offset %u, %u x %u bytes, "
			 "count at %u, entry %u bytes)", d->off_regions, d->max_regions, d->region_stride,
			 d->off_nregions, d->proc.stride);
		return -1;
	}
	uint32_t *mc = calloc(d->nframes, sizeof *mc);
	int32_t *to = calloc(d->nframes, sizeof *to);
	struct audit_proc *pr = calloc(d->nproc, sizeof *pr);
	uint32_t *rh = calloc(d->nframes, sizeof *rh);
	uint32_t *ao = calloc(d->nproc, sizeof *ao);
	struct books_as_key *ks = calloc(d->nproc, sizeof *ks);
	if (!mc || !to || !pr || !rh || !ao || !ks) {
		free(mc);
		free(to);
		free(pr);
		free(rh);
		free(ao);
		free(ks);
		snprintf(err, n, "out of memory for %llu frames", (unsigned long long)d->nframes);
		return -1;
	}
	free(a->mapcount);
	free(a->table_owner);
	free(a->procs);
	free(a->rmap_head);
	free(a->as_owner);
	free(a->keys);
	a->as_owner = ao;
	a->keys = ks;
	a->rmap_head = rh;
	a->rmap_valid = false;
	a->mapcount = mc;
	a->table_owner = to;
	a->procs = pr;
	a->alloc_frames = d->nframes;
	a->cap_procs = d->nproc;
	books_init(&a->bk, a->m, d);
	return 0;
}

const struct cowvmm_hc_describe *audit_descriptor(const struct audit *a)
{
	return a->bk.valid ? &a->bk.d : NULL;
}

const struct books *audit_books(const struct audit *a)
{
	return &a->bk;
}

const struct gmem *audit_mem(const struct audit *a)
{
	return a->m;
}

bool audit_cow_before(const struct audit *a, int32_t *pid, uint64_t *va, uint64_t *frame, int32_t *sharer)
{
	const struct cow_snapshot *s = &a->before;
	if (!s->valid)
		return false;
	*pid = s->pid;
	*va = s->va;
	*frame = s->frame;
	*sharer = s->nsharers ? s->sharer[0].pid : 0;
	return true;
}

bool audit_proc_entry(const struct audit *a, uint32_t i, struct audit_proc *out)
{
	struct guest_proc g;
	if (!books_proc(&a->bk, i, &g))
		return false;
	memset(out, 0, sizeof *out);
	out->pid = g.pid;
	out->ppid = g.ppid;
	out->tgid = g.tgid;
	out->state = g.state;
	out->cr3 = g.cr3;
	memcpy(out->name, g.name, sizeof out->name);
	return true;
}

void av(struct audit *a, enum audit_kind k, int32_t pid, int32_t pid2, uint64_t va,
	uint64_t pte, uint64_t pte2, uint64_t frame, uint64_t expected, uint64_t found,
	const char *fmt, ...)
{
	a->nv_total++;
	if (a->nv >= AUDIT_MAX_VIOLATIONS)
		return;
	struct audit_violation *v = &a->v[a->nv++];
	*v = (struct audit_violation){ k, a->cpkind, a->seq, pid, pid2, va, pte, pte2, frame,
				       expected, found, "" };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof v->detail, fmt, ap);
	va_end(ap);
}

void audit_add(struct audit *a, const struct audit_violation *v)
{
	a->nv_total++;
	if (a->nv < AUDIT_MAX_VIOLATIONS)
		a->v[a->nv++] = *v;
}

struct audit_proc *audit_find_proc(struct audit *a, int32_t pid)
{
	for (size_t i = 0; i < a->nprocs; i++)
		if (a->procs[i].pid == pid)
			return &a->procs[i];
	return NULL;
}

int32_t audit_as_pid(struct audit *a, int32_t pid)
{
	const struct audit_proc *p = audit_find_proc(a, pid);
	return p && p->as_pid ? p->as_pid : pid;
}

bool leafvec_push(struct leafvec *lv, uint64_t va, uint64_t pte, uint64_t frame)
{
	if (lv->n == lv->cap) {
		size_t cap = lv->cap ? 2 * lv->cap : 1024;
		struct leafrec *v = realloc(lv->v, cap * sizeof *v);
		if (!v)
			return false;
		lv->v = v;
		lv->cap = cap;
	}
	lv->v[lv->n++] = (struct leafrec){ va, pte, frame };
	return true;
}

/* ---- the walk of one address space ------------------------------------- */

static int on_table(void *ctx, uint64_t gpa, int level, uint64_t va)
{
	struct audit *a = ctx;
	uint64_t f = gpa / COWVMM_PAGE_SIZE;
	(void)level;
	a->cur->tables++;
	if (f >= a->bk.d.nframes)
		return 0;
	int32_t owner = a->table_owner[f];
	if (owner && owner != a->cur->pid)
		av(a, AV_TABLE_SHARED, owner, a->cur->pid, va, 0, 0, f, 0, 0,
		   "level-%d page-table page 0x%llx is used by pid %d and pid %d", level,
		   (unsigned long long)gpa, owner, a->cur->pid);
	else
		a->table_owner[f] = a->cur->pid;
	return 0;
}

static int on_fault(void *ctx, const struct ptw_fault *f)
{
	struct audit *a = ctx;
	av(a, AV_PT_BROKEN, a->cur->pid, 0, f->va, f->entry, 0, f->target_gpa / COWVMM_PAGE_SIZE, 0, 0,
	   "%s: level-%d entry at 0x%llx points to 0x%llx", ptw_error_name(f->err), f->level,
	   (unsigned long long)f->entry_gpa, (unsigned long long)f->target_gpa);
	return 0;
}

static int on_leaf(void *ctx, const struct ptw_leaf *l)
{
	struct audit *a = ctx;
	struct audit_proc *p = a->cur;
	bool w = l->eff & PTW_EFF_W;
	uint64_t n = l->size / COWVMM_PAGE_SIZE;
	if (l->level > 1)
		p->huge++;
	if ((l->pte & COWVMM_PTE_RW) && l->cow)
		av(a, AV_COW_WRITABLE, p->pid, 0, l->va, l->pte, 0, l->pa / COWVMM_PAGE_SIZE, 0, 0,
		   "PTE has both the COW flag and RW");
	if (a->pages_seen + n > a->pages_budget) {
		if (!a->budget_hit) {
			/* The one violation that explains the others: listed first,
			 * even when the list is full. */
			if (a->nv == AUDIT_MAX_VIOLATIONS)
				a->nv--;
			av(a, AV_PT_BROKEN, p->pid, 0, l->va, l->pte, 0, l->pa / COWVMM_PAGE_SIZE, a->pages_budget,
			   a->pages_seen + n, "the page tables map more than %llu pages in all (a loop, aliased "
			   "tables or huge leaves?): audit stopped here", (unsigned long long)a->pages_budget);
			struct audit_violation first = a->v[0];
			a->v[0] = a->v[a->nv - 1];
			a->v[a->nv - 1] = first;
		}
		a->budget_hit = true;
		return 1; /* stop this walk; walk_all() stops the others */
	}
	a->pages_seen += n;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t va = l->va + i * COWVMM_PAGE_SIZE;
		uint64_t f = l->pa / COWVMM_PAGE_SIZE + i;
		p->pages++;
		p->writable += w;
		p->cow += l->cow;
		if (a->collect && !leafvec_push(a->collect, va, l->pte, f))
			a->collect = NULL, a->collect_failed = true; /* cp_check says so */
		if (f == a->watch_frame && !(p->pid == a->watch_pid && va == a->watch_va)) {
			struct cow_snapshot *s = &a->before;
			if (s->nsharers < MAX_SHARERS)
				s->sharer[s->nsharers++] = (struct sharer){ p->pid, va, l->pte };
			else
				s->sharers_truncated = true;
		}
		if (f < a->bk.d.first_frame || f >= a->bk.d.nframes) {
			av(a, AV_UNMANAGED, p->pid, 0, va, l->pte, 0, f, 0, 0,
			   "user PTE maps frame 0x%llx outside the allocator's frames [0x%llx, 0x%llx)",
			   (unsigned long long)f, (unsigned long long)a->bk.d.first_frame,
			   (unsigned long long)a->bk.d.nframes);
			continue;
		}
		a->mapcount[f]++; /* no uint32_t wrap: pages_budget bounds a full audit's mappings to millions */
		if (f != a->bk.d.zero_frame) /* the zero frame's sharers are never asked for */
			rmap_add(a, f, p->pid, va);
		uint32_t rc = a->rc[f], pins = a->pins[f];
		uint32_t refs = rc >= pins ? rc - pins : 0; /* PTE references as the guest books them */
		p->shared += refs > 1;
		bool zf = f == a->bk.d.zero_frame;
		p->zero += zf;
		if (rc == 0)
			av(a, AV_FREE_MAPPED, p->pid, 0, va, l->pte, 0, f, 1, 0,
			   "PTE maps frame 0x%llx whose refcount is 0 (free)", (unsigned long long)f);
		else if (w && refs > 1)
			av(a, AV_SHARED_WRITABLE, p->pid, 0, va, l->pte, 0, f, 1, refs,
			   "writable PTE maps frame 0x%llx which has %u PTE references (refcount %u, pins %u)",
			   (unsigned long long)f, refs, rc, pins);
		if (zf && (w || !l->zero))
			av(a, AV_ZERO, p->pid, 0, va, l->pte, 0, f, 0, 0, "zero frame mapped %s%s",
			   w ? "writable" : "", l->zero ? "" : (w ? ", without the ZERO flag" : "without the ZERO flag"));
		else if (!zf && l->zero)
			av(a, AV_ZERO, p->pid, 0, va, l->pte, 0, f, a->bk.d.zero_frame, f,
			   "PTE has the ZERO flag but maps frame 0x%llx, not the zero frame 0x%llx",
			   (unsigned long long)f, (unsigned long long)a->bk.d.zero_frame);
	}
	return 0;
}

static const struct ptw_ops audit_ops = { on_table, on_leaf, on_fault };

/* Keys in thread-group order: each group's leader first, then by pid. */
static int by_group(const void *x, const void *y)
{
	const struct books_as_key *a = x, *b = y;
	if (a->tgid != b->tgid)
		return a->tgid < b->tgid ? -1 : 1;
	bool la = a->pid == a->tgid, lb = b->pid == b->tgid;
	if (la != lb)
		return la ? -1 : 1;
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

static int by_pid(const void *x, const void *y)
{
	const struct books_as_key *a = x, *b = y;
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

/*
 * Threads (the ABI's off_tgid): entries on one page-table root share one
 * address space, which is walked once, under its owner's pid
 * (books_as_sort(): the group leader while it still has the tables, else
 * the lowest pid running on them; so a shared address space's violations
 * name the leader, or its lowest live thread once the leader is a zombie).
 * The table must say who shares what consistently: the entries on one root
 * are one thread group (two processes on one page-table root is a kernel
 * bug that otherwise shows only as refcount noise), the live threads of a
 * group run on one root, and each group has its leader's slot (it holds
 * the group's regions).  O(n log n): the table can have 65,536 slots.
 */
static void group_procs(struct audit *a)
{
	struct books_as_key *k = a->keys;
	size_t n = 0;
	for (size_t i = 0; i < a->nprocs; i++) {
		struct audit_proc *p = &a->procs[i];
		a->as_owner[i] = NO_OWNER;
		p->as_pid = 0;
		if (books_has_mm(p->state, p->cr3))
			k[n++] = (struct books_as_key){ books_root(p->cr3), p->pid, p->tgid, (uint32_t)i };
	}
	books_as_sort(k, n);
	for (size_t j = 0, o = 0; j < n; j++) {
		if (k[j].root != k[o].root)
			o = j; /* the owner of a new root */
		struct audit_proc *p = &a->procs[k[j].idx];
		const struct audit_proc *own = &a->procs[k[o].idx];
		a->as_owner[k[j].idx] = k[o].idx;
		p->as_pid = own->pid;
		if (p->tgid != own->tgid)
			av(a, AV_PROC, own->pid, p->pid, 0, 0, 0, k[j].root / COWVMM_PAGE_SIZE,
			   (uint64_t)(uint32_t)own->tgid, (uint64_t)(uint32_t)p->tgid,
			   "pid %d and pid %d share the page tables at 0x%llx but not a thread group (%d and %d)",
			   own->pid, p->pid, (unsigned long long)k[j].root, own->tgid, p->tgid);
	}
	/* One root per group: each live thread's against its group's first
	 * (the leader, if it still has its tables). */
	qsort(k, n, sizeof *k, by_group);
	for (size_t j = 1, o = 0; j < n; j++) {
		if (k[j].tgid != k[o].tgid)
			o = j;
		else if (k[j].root != k[o].root)
			av(a, AV_PROC, k[o].pid, k[j].pid, 0, 0, 0, k[j].root / COWVMM_PAGE_SIZE, k[o].root, k[j].root,
			   "pid %d and pid %d are threads of group %d but run on different page tables (0x%llx, 0x%llx)",
			   k[o].pid, k[j].pid, k[j].tgid, (unsigned long long)k[o].root, (unsigned long long)k[j].root);
	}
	/* A leader for every thread, zombies included (the leader's slot
	 * outlives them all). */
	n = 0;
	for (size_t i = 0; i < a->nprocs; i++)
		k[n++] = (struct books_as_key){ 0, a->procs[i].pid, a->procs[i].tgid, (uint32_t)i };
	qsort(k, n, sizeof *k, by_pid);
	for (size_t i = 0; i < a->nprocs; i++) {
		const struct audit_proc *p = &a->procs[i];
		if (p->tgid == p->pid)
			continue;
		struct books_as_key want = { .pid = p->tgid };
		const struct books_as_key *l = bsearch(&want, k, n, sizeof *k, by_pid);
		if (!l)
			av(a, AV_PROC, p->pid, 0, 0, 0, 0, NO_FRAME, (uint64_t)(uint32_t)p->tgid, 0,
			   "pid %d is a thread of group %d, whose leader (pid %d) has no process-table slot",
			   p->pid, p->tgid, p->tgid);
		else if (l->tgid != l->pid)
			av(a, AV_PROC, p->pid, l->pid, 0, 0, 0, NO_FRAME, (uint64_t)(uint32_t)l->pid,
			   (uint64_t)(uint32_t)l->tgid,
			   "pid %d is a thread of group %d, but pid %d leads no group (it is a thread of %d)",
			   p->pid, p->tgid, l->pid, l->tgid);
	}
}

/* Read the process table into a->procs (every entry in use, zombies too),
 * and group the entries by address space. */
static void read_procs(struct audit *a)
{
	a->nprocs = 0;
	for (uint32_t i = 0; i < a->bk.d.nproc; i++) {
		struct audit_proc p;
		if (!audit_proc_entry(a, i, &p))
			continue;
		if (p.state > COWVMM_PSTATE_ZOMBIE) {
			av(a, AV_PROC, p.pid, 0, 0, 0, 0, NO_FRAME, 0, p.state,
			   "process slot %u has unknown state %u", i, p.state);
			continue;
		}
		if (audit_find_proc(a, p.pid)) {
			av(a, AV_PROC, p.pid, 0, 0, 0, 0, NO_FRAME, 0, 0,
			   "pid %d appears twice in the process table", p.pid);
			continue;
		}
		a->procs[a->nprocs++] = p;
	}
	group_procs(a);
}

/* A thread's figures are its address space's, counted once by its owner. */
static void copy_figures(struct audit_proc *to, const struct audit_proc *from)
{
	to->pages = from->pages;
	to->writable = from->writable;
	to->cow = from->cow;
	to->shared = from->shared;
	to->zero = from->zero;
	to->huge = from->huge;
	to->tables = from->tables;
}

/* A walk of every live address space, filling mapcount / table_owner: each
 * once (threads share one: counting it per thread would count each PTE as
 * often as the group has threads). */
static void walk_all(struct audit *a)
{
	for (size_t i = 0; i < a->nprocs; i++) {
		struct audit_proc *p = &a->procs[i];
		/* A zombie has released its memory; cr3 0 means no address space;
		 * another thread's walk covers this one's. */
		if (a->as_owner[i] != i)
			continue;
		a->cur = p;
		a->collect = p->pid == a->collect_pid[0] ? &a->fork_a :
			     p->pid == a->collect_pid[1] ? &a->fork_b : NULL;
		int r = ptw_walk(a->m, p->cr3, PTW_USER_LO, PTW_USER_HI, 0, &audit_ops, a);
		if (a->budget_hit)
			break;
		if (r)
			av(a, AV_PROC, p->pid, 0, 0, 0, 0, NO_FRAME, 0, 0,
			   "cannot walk the page tables at 0x%llx (error %d)", (unsigned long long)p->cr3, r);
	}
	a->cur = NULL;
	for (size_t i = 0; i < a->nprocs; i++)
		if (a->as_owner[i] != NO_OWNER && a->as_owner[i] != i)
			copy_figures(&a->procs[i], &a->procs[a->as_owner[i]]);
}

/* After the walks: the books against what the walks counted. */
static void final_pass(struct audit *a)
{
	uint64_t free = 0;
	for (uint64_t f = 0; f < a->bk.d.nframes; f++) {
		uint32_t rc = a->rc[f], pins = a->pins[f], mc = a->mapcount[f];
		int32_t owner = a->table_owner[f];
		if (owner && mc)
			av(a, AV_TABLE_AS_DATA, owner, 0, 0, 0, 0, f, 0, mc,
			   "page-table page 0x%llx of pid %d is also mapped by %u user PTE(s)",
			   (unsigned long long)(f * COWVMM_PAGE_SIZE), owner, mc);
		if (f < a->bk.d.first_frame)
			continue; /* not the allocator's: no books to check */
		if (owner && rc == 0)
			av(a, AV_TABLE_FREE, owner, 0, 0, 0, 0, f, 1, 0,
			   "page-table page 0x%llx of pid %d has refcount 0 (free)",
			   (unsigned long long)(f * COWVMM_PAGE_SIZE), owner);
		if ((uint64_t)rc != (uint64_t)mc + pins)
			av(a, AV_REFCOUNT, 0, 0, 0, 0, 0, f, (uint64_t)mc + pins, rc,
			   "frame 0x%llx: refcount %u, but %u PTE(s) map it and it has %u pin(s)",
			   (unsigned long long)f, rc, mc, pins);
		free += rc == 0;
	}
	a->frames_free = free;
	uint64_t fc;
	const void *p = gmem_ptr(a->m, a->bk.d.free_count_gpa, 8);
	if (p) {
		memcpy(&fc, p, 8);
		if (fc != free)
			av(a, AV_FREE_COUNT, 0, 0, 0, 0, 0, NO_FRAME, free, fc,
			   "free count says %llu, but %llu of the %llu managed frames have refcount 0",
			   (unsigned long long)fc, (unsigned long long)free,
			   (unsigned long long)(a->bk.d.nframes - a->bk.d.first_frame));
	}
	/* zero_frame < nframes <= RAM's frames (describe_validate()): the product cannot wrap. */
	const uint8_t *z = gmem_ptr(a->m, a->bk.d.zero_frame * COWVMM_PAGE_SIZE, COWVMM_PAGE_SIZE);
	if (z) {
		for (unsigned i = 0; i < COWVMM_PAGE_SIZE; i++)
			if (z[i]) {
				av(a, AV_ZERO, 0, 0, 0, 0, 0, a->bk.d.zero_frame, 0, z[i],
				   "zero frame written: byte %u is 0x%02x", i, z[i]);
				break;
			}
	}
}

/* Frame-only violations name a process and address when a mapping exists:
 * a second, rare walk (only when something is wrong). */
struct namer {
	struct audit *a;
	int32_t pid;
};

static int name_leaf(void *ctx, const struct ptw_leaf *l)
{
	struct namer *nm = ctx;
	uint64_t f0 = l->pa / COWVMM_PAGE_SIZE, n = l->size / COWVMM_PAGE_SIZE;
	for (size_t i = 0; i < nm->a->nv; i++) {
		struct audit_violation *v = &nm->a->v[i];
		if (v->pid || v->frame == NO_FRAME || v->frame < f0 || v->frame >= f0 + n ||
		    (v->kind != AV_REFCOUNT && v->kind != AV_TABLE_AS_DATA))
			continue;
		v->pid = nm->pid;
		v->va = l->va + (v->frame - f0) * COWVMM_PAGE_SIZE;
		v->pte = l->pte;
	}
	return 0;
}

static void name_frames(struct audit *a)
{
	bool need = false;
	for (size_t i = 0; i < a->nv; i++)
		need |= a->v[i].pid == 0 && (a->v[i].kind == AV_REFCOUNT || a->v[i].kind == AV_TABLE_AS_DATA);
	if (!need)
		return;
	const struct ptw_ops ops = { .leaf = name_leaf };
	for (size_t i = 0; i < a->nprocs; i++) {
		struct audit_proc *p = &a->procs[i];
		if (a->as_owner[i] != i)
			continue; /* no address space, or another thread's walk names it */
		struct namer nm = { a, p->pid };
		ptw_walk(a->m, p->cr3, PTW_USER_LO, PTW_USER_HI, 0, &ops, &nm);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

unsigned audit_run(struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	uint64_t t0 = now_ns();
	a->seq++;
	a->nv = 0;
	a->nv_total = 0;
	a->cpkind = cp->checkpoint;
	a->nprocs = 0;
	if (!a->bk.valid) {
		av(a, AV_PROC, cp->pid, 0, 0, 0, 0, NO_FRAME, 0, 0, "checkpoint before the guest described its memory");
		goto out;
	}
	a->rc = gmem_ptr(a->m, a->bk.d.refcount_gpa, 4 * a->bk.d.nframes);
	a->pins = gmem_ptr(a->m, a->bk.d.pins_gpa, 4 * a->bk.d.nframes);
	if (!a->rc || !a->pins) {
		av(a, AV_PROC, 0, 0, 0, 0, 0, NO_FRAME, 0, 0, "refcount or pins array outside RAM");
		goto out;
	}
	read_procs(a);
	bool cow = cp->checkpoint == COWVMM_CP_COW_BEFORE || cp->checkpoint == COWVMM_CP_COW_AFTER;
	a->cow_since_full += cow;
	/* Cheap when it can be: a COW checkpoint between full audits is judged
	 * locally; anything else, every Nth COW checkpoint, and a local picture
	 * that does not add up get the full walk. */
	a->last_full = !cow || a->full_every <= 1 || a->cow_since_full >= a->full_every;
	if (!a->last_full) {
		if (local_cow(a, cp)) {
			a->nlocal++;
			goto out;
		}
		a->nfallback++;
		a->nv = 0;
		a->nv_total = 0;
		a->last_full = true;
		/* The reset dropped what read_procs() found (which is why the
		 * local picture did not add up, often): read the table again. */
		read_procs(a);
	}
	a->nfull++;
	a->cow_since_full = 0;
	memset(a->mapcount, 0, a->bk.d.nframes * sizeof *a->mapcount);
	memset(a->table_owner, 0, a->bk.d.nframes * sizeof *a->table_owner);
	rmap_reset(a);
	a->pages_seen = 0;
	a->budget_hit = false;
	a->pages_budget = a->bk.d.nframes * AUDIT_PAGES_PER_FRAME > AUDIT_PAGES_MIN ?
			  a->bk.d.nframes * AUDIT_PAGES_PER_FRAME : AUDIT_PAGES_MIN;
	cp_prepare(a, cp);
	walk_all(a);
	if (a->budget_hit) {
		/* The counts are partial: comparing them with the books would
		 * only report frames the walk never reached.  The reverse map is
		 * partial too: no local checkpoint until a full audit completes. */
		a->rmap_valid = false;
		goto out;
	}
	final_pass(a);
	cp_check(a, cp);
	name_frames(a);
out:
	a->last_ns = now_ns() - t0;
	return (unsigned)(a->nv_total > 0xffffffffu ? 0xffffffffu : a->nv_total);
}

const struct audit_violation *audit_violations(const struct audit *a, size_t *n, uint64_t *total)
{
	*n = a->nv;
	if (total)
		*total = a->nv_total;
	return a->v;
}

const struct audit_proc *audit_procs(const struct audit *a, size_t *n)
{
	*n = a->nprocs;
	return a->procs;
}

uint64_t audit_seq(const struct audit *a) { return a->seq; }
uint64_t audit_last_ns(const struct audit *a) { return a->last_ns; }
uint64_t audit_frames_free(const struct audit *a) { return a->frames_free; }
bool audit_last_full(const struct audit *a) { return a->last_full; }

void audit_set_full_every(struct audit *a, unsigned n)
{
	a->full_every = n ? n : 1;
}

void audit_counts(const struct audit *a, uint64_t *full, uint64_t *local, uint64_t *fallback)
{
	*full = a->nfull;
	*local = a->nlocal;
	*fallback = a->nfallback;
}

const char *audit_format(const struct audit_violation *v, char *buf, size_t n)
{
	int k = snprintf(buf, n, "%s", audit_kind_name(v->kind));
	if (v->pid && k >= 0 && (size_t)k < n)
		k += snprintf(buf + k, n - k, " pid %d", v->pid);
	if (v->pid2 && k >= 0 && (size_t)k < n)
		k += snprintf(buf + k, n - k, "/%d", v->pid2);
	if ((v->va || v->pid) && k >= 0 && (size_t)k < n)
		k += snprintf(buf + k, n - k, " va 0x%llx", (unsigned long long)v->va);
	if (k >= 0 && (size_t)k < n)
		k += snprintf(buf + k, n - k, ": %s", v->detail);
	if (v->pte && k >= 0 && (size_t)k < n)
		k += snprintf(buf + k, n - k, " [PTE 0x%016llx", (unsigned long long)v->pte);
	if (v->pte && v->pte2 && k >= 0 && (size_t)k < n)
		k += snprintf(buf + k, n - k, ", other PTE 0x%016llx", (unsigned long long)v->pte2);
	if (v->pte && k >= 0 && (size_t)k < n)
		k += snprintf(buf + k, n - k, "]");
	if (v->frame != NO_FRAME && k >= 0 && (size_t)k < n)
		snprintf(buf + k, n - k, " (frame 0x%llx, expected %llu, found %llu)",
			 (unsigned long long)v->frame, (unsigned long long)v->expected,
			 (unsigned long long)v->found);
	return buf;
}
