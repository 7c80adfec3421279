/* vmm/mutate.c — deliberately break one COW invariant in guest memory, so the tests can show the audit catches it. */
#include <stdio.h>
#include <string.h>

#include "inspect.h"
#include "mutate.h"
#include "ptwalk.h"
#include "vmm.h"

/* dirty-old is applied by dirty.c (it needs KVM): mutate_apply() ignores it. */
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

/* A managed frame with refcount 0 that is not the zero frame: the highest one. */
static uint64_t free_frame(const struct books *b)
{
	const struct cowvmm_hc_describe *d = &b->d;
	for (uint64_t f = d->nframes; f-- > d->first_frame;) {
		uint32_t rc, pins;
		if (f != d->zero_frame && books_frame_counts(b, f, &rc, &pins) && rc == 0)
			return f;
	}
	return 0;
}

bool mutate_apply(const struct books *b, const char *kind, const struct cowvmm_hc_inspect *cp,
		  char *what, size_t n)
{
	struct guest_proc p;
	if (!b->valid || cp->checkpoint != COWVMM_CP_FORK)
		return false;
	/* The parent's entry: a fork checkpoint names it in cp->pid. */
	if (!books_find_pid(b, cp->pid, &p, NULL) || !(p.cr3 & COWVMM_PTE_ADDR))
		return false;
	struct find f = { .found = false };
	const struct ptw_ops ops = { .leaf = first_cow };
	ptw_walk(b->m, p.cr3, PTW_USER_LO, PTW_USER_HI, 0, &ops, &f);
	if (!f.found)
		return false;
	uint64_t frame = f.l.pa / COWVMM_PAGE_SIZE;
	uint64_t *pte = gmem_ptr(b->m, f.l.pte_gpa, 8);
	uint32_t *rc = books_refcount_ptr(b, frame);
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
		uint64_t ff = free_frame(b);
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

/* ---- the module: --mutate KIND ---------------------------------------------- */

struct mutate_state {
	const char *kind;   /* NULL: no mutation asked for */
	bool done;
};

static const struct vmm_module mutate_module;

static struct mutate_state *st(const struct vm *vm)
{
	return vm_state(vm, &mutate_module);
}

const char *mutate_kind(const struct vm *vm)
{
	return st(vm)->kind;
}

bool mutate_pending(const struct vm *vm, const char *kind)
{
	const struct mutate_state *m = st(vm);
	return m->kind && !m->done && !strcmp(m->kind, kind);
}

void mutate_done(struct vm *vm)
{
	st(vm)->done = true;
}

void mutate_at_checkpoint(struct vm *vm, const struct books *b, const struct cowvmm_hc_inspect *cp)
{
	struct mutate_state *m = st(vm);
	char what[200];
	if (m->kind && !m->done && mutate_apply(b, m->kind, cp, what, sizeof what)) {
		m->done = true;
		vm_note(vm, "mutate: %s", what);
	}
}

void mutate_report(const struct vm *vm)
{
	const struct mutate_state *m = st(vm);
	if (m->kind && !m->done)
		fprintf(stderr, "vmm: mutate: %s was never applied (no checkpoint where it could be)\n", m->kind);
}

static const struct vmm_option mutate_options[] = {
	{ "mutate", true, 0 },
	{ NULL, false, 0 },
};

static int mutate_option(struct vm *vm, int id, const char *arg)
{
	(void)id;
	if (!mutate_kind_valid(arg)) {
		fprintf(stderr, "vmm: invalid --mutate kind (writable, leak, drop, free-map, dirty-old) '%s'\n"
			"Try 'vmm --help'.\n", arg);
		return VMM_EXIT_USAGE;
	}
	st(vm)->kind = arg;
	inspect_require(vm);
	return 0;
}

static void mutate_usage(FILE *f)
{
	fprintf(f,
		"      --mutate KIND     test the audit: at the first fork checkpoint the VMM\n"
		"                        breaks an invariant in guest memory; KIND is writable,\n"
		"                        leak, drop or free-map; or dirty-old: at the first\n"
		"                        COW fault that copies, KVM writes the shared old\n"
		"                        frame (contents restored: only the dirty log sees\n"
		"                        it); the run must end with status 1\n");
}

static const struct vmm_module mutate_module = {
	.name = "mutate",
	.order = 22,
	.state_size = sizeof(struct mutate_state),
	.options = mutate_options,
	.usage = mutate_usage,
	.option = mutate_option,
};
VMM_MODULE(mutate_module);
