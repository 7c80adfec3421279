/* vmm/dot.c — Graphviz pictures of two processes' page-table trees and the frames they map (runs collapsed, COW sharing highlighted). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dot.h"
#include "inspect.h"
#include "outfile.h"
#include "ptwalk.h"
#include "vmm.h"

#define MAX_RUNS 48    /* frame-run nodes per process; the rest is summarized */
#define MAX_TABLES 64  /* table nodes per process (a picture, not a dump); the rest skipped */

static const char *const level_names[5] = { "", "PT", "PD", "PDPT", "PML4" };

/* A run of pages: contiguous VA and frames, one PT, same flags and refcount. */
struct run {
	bool open;
	uint64_t table;        /* PT holding the PTEs */
	unsigned idx0;         /* first PTE index */
	uint64_t va, frame, n;
	uint64_t pte;
	uint32_t rc;
	bool target;           /* contains the marked page */
};

struct dotctx {
	FILE *f;
	FILE *fr;              /* frame nodes and their edges: drawn outside the clusters */
	const struct books *b;
	int pid;
	uint64_t mark_va;      /* page to highlight (0 = none) */
	uint64_t stack[5];     /* last table entered at each level */
	struct run r;
	unsigned runs, tables;
	uint64_t hidden_pages, hidden_tables;
};

static const char *run_colour(const struct run *r)
{
	if (r->pte & COWVMM_PTE_ZERO)
		return "lightgrey";
	if (r->pte & COWVMM_PTE_COW)
		return r->rc > 1 ? "orange" : "gold";
	if (r->pte & COWVMM_PTE_RW)
		return "palegreen";
	return "lightblue";
}

static void flush_run(struct dotctx *c)
{
	struct run *r = &c->r;
	if (!r->open)
		return;
	r->open = false;
	if (c->runs >= MAX_RUNS) {
		c->hidden_pages += r->n;
		return;
	}
	c->runs++;
	char id[64];
	snprintf(id, sizeof id, "f%llx_%llx_%d", (unsigned long long)r->frame, (unsigned long long)r->n,
		 r->target);
	const char *kind = r->pte & COWVMM_PTE_ZERO ? "zero frame" : r->pte & COWVMM_PTE_COW ? "COW" :
			   r->pte & COWVMM_PTE_RW ? "writable" : "read-only";
	char frames[64];
	if (r->n > 1)
		snprintf(frames, sizeof frames, "frames 0x%llx-0x%llx", (unsigned long long)r->frame,
			 (unsigned long long)(r->frame + r->n - 1));
	else
		snprintf(frames, sizeof frames, "frame 0x%llx", (unsigned long long)r->frame);
	fprintf(c->fr, "  %s [label=\"%s\\n%s, refcount %u\", style=\"filled%s\", fillcolor=%s%s];\n", id,
		frames, kind, r->rc, r->target ? ",bold" : "", run_colour(r),
		r->target ? ", color=red, penwidth=3" : "");
	if (r->n > 1)
		fprintf(c->fr, "  t%llx -> %s [label=\"[%u..%u] va 0x%llx\"%s];\n", (unsigned long long)r->table,
			id, r->idx0, r->idx0 + (unsigned)r->n - 1, (unsigned long long)r->va,
			r->pte & COWVMM_PTE_COW ? ", style=dashed" : "");
	else
		fprintf(c->fr, "  t%llx -> %s [label=\"[%u] va 0x%llx\"%s];\n", (unsigned long long)r->table, id,
			r->idx0, (unsigned long long)r->va, r->pte & COWVMM_PTE_COW ? ", style=dashed" : "");
}

static int dot_table(void *ctx, uint64_t gpa, int level, uint64_t va)
{
	struct dotctx *c = ctx;
	flush_run(c);
	if (c->tables >= MAX_TABLES) {
		/* A hostile guest's tables: the picture stays readable (and small);
		 * PTW_SKIP leaves the table's leaves out too. */
		c->hidden_tables++;
		return PTW_SKIP;
	}
	c->tables++;
	c->stack[level] = gpa;
	fprintf(c->f, "  t%llx [label=\"pid %d %s\\n0x%llx\", shape=box3d];\n", (unsigned long long)gpa, c->pid,
		level_names[level], (unsigned long long)gpa);
	if (level < 4)
		fprintf(c->f, "  t%llx -> t%llx [label=\"[%u]\"];\n", (unsigned long long)c->stack[level + 1],
			(unsigned long long)gpa, ptw_index(va, level + 1));
	return 0;
}

static int dot_leaf(void *ctx, const struct ptw_leaf *l)
{
	struct dotctx *c = ctx;
	uint64_t frame = l->pa / COWVMM_PAGE_SIZE;
	uint32_t rc = 0, pins = 0;
	books_frame_counts(c->b, frame, &rc, &pins);
	bool target = c->mark_va && (c->mark_va & ~0xfffull) >= l->va && (c->mark_va & ~0xfffull) < l->va + l->size;
	const uint64_t cls = COWVMM_PTE_COW | COWVMM_PTE_RW | COWVMM_PTE_ZERO | COWVMM_PTE_US | COWVMM_PTE_NX;
	struct run *r = &c->r;
	uint64_t table = l->pte_gpa & ~0xfffull;
	if (r->open && !target && !r->target && r->table == table && r->va + r->n * COWVMM_PAGE_SIZE == l->va &&
	    r->frame + r->n == frame && ((r->pte ^ l->pte) & cls) == 0 && r->rc == rc && l->level == 1) {
		r->n++;
		return 0;
	}
	flush_run(c);
	*r = (struct run){ true, table, (unsigned)((l->pte_gpa & 0xfff) / 8), l->va, frame,
			   l->size / COWVMM_PAGE_SIZE, l->pte, rc, target };
	return 0;
}

static void draw_process(FILE *f, const struct books *b, int pid, uint64_t mark_va)
{
	struct guest_proc p;
	if (!books_find_pid(b, pid, &p, NULL) || !books_has_mm(p.state, p.cr3))
		return;
	char group[40] = "";
	if (p.tgid != p.pid)
		snprintf(group, sizeof group, " (thread of %d)", p.tgid);
	fprintf(f, "  subgraph cluster_%d {\n  label=\"pid %d%s (%s)\";\n", pid, pid, group, p.name);
	char *frames = NULL;
	size_t len = 0;
	struct dotctx c = { .f = f, .fr = open_memstream(&frames, &len), .b = b, .pid = pid, .mark_va = mark_va };
	if (!c.fr)
		return;
	const struct ptw_ops ops = { .table = dot_table, .leaf = dot_leaf };
	/* Table nodes go in the cluster; frames are placed outside it, so two
	 * processes' edges can meet at one shared frame node. */
	ptw_walk(b->m, p.cr3, PTW_USER_LO, PTW_USER_HI, 0, &ops, &c);
	flush_run(&c);
	fclose(c.fr);
	fprintf(f, "  }\n");
	fwrite(frames, 1, len, f);
	free(frames);
	if (c.hidden_tables)
		fprintf(f, "  moretables_%d [label=\"pid %d: %llu more page-table pages not drawn\", shape=note];\n", pid,
			pid, (unsigned long long)c.hidden_tables);
	if (c.hidden_pages)
		fprintf(f, "  more_%d [label=\"pid %d: %llu more pages not drawn\", shape=note];\n", pid, pid,
			(unsigned long long)c.hidden_pages);
}

int dot_write(struct outfiles *o, const char *dir, const char *name, const char *title, const struct books *b,
	      int pid, int pid2, uint64_t va)
{
	int r = out_mkdir(o, dir, 0755);
	if (r && r != -EEXIST)
		return r;
	char file[OUT_NAME_MAX];
	snprintf(file, sizeof file, "%s.dot", name);
	struct outfile w;
	FILE *f = out_open(&w, o, dir, file);
	if (!f)
		return -errno;
	fprintf(f, "digraph \"%s\" {\n  rankdir=LR; compound=true; fontname=\"Helvetica\";\n"
		   "  node [fontname=\"Helvetica\", fontsize=10, shape=box]; edge [fontsize=8];\n"
		   "  labelloc=t; label=\"%s\";\n", name, title);
	fprintf(f, "  legend [shape=plaintext, label=\"orange: shared COW frames (refcount > 1)\\n"
		   "gold: COW flag, refcount 1 (next write reuses)\\ngreen: private writable\\n"
		   "blue: read-only (text)\\ngrey: zero frame\\nred border: the faulting page\\n"
		   "dashed edge: COW PTE\"];\n");
	draw_process(f, b, pid, va);
	/* Two threads of one group (one address space): its tables once. */
	struct guest_proc p1, p2;
	if (pid2 && pid2 != pid && books_find_pid(b, pid, &p1, NULL) && books_find_pid(b, pid2, &p2, NULL) &&
	    books_has_mm(p1.state, p1.cr3) && books_has_mm(p2.state, p2.cr3) &&
	    books_root(p1.cr3) == books_root(p2.cr3))
		fprintf(f, "  same_%d [label=\"pid %d: same address space as pid %d\", shape=note];\n", pid2, pid2, pid);
	else if (pid2 && pid2 != pid)
		draw_process(f, b, pid2, va);
	fprintf(f, "}\n");
	r = out_close(&w);
	return r ? r : out_dot(o, dir, name);
}

/* ---- the module: --dot DIR ------------------------------------------------- */

struct dot_state {
	const char *dir;    /* NULL: no pictures */
	bool fork_done, cow_done;
	int32_t cow_pid, cow_other;
	uint64_t cow_va;
};

static const struct vmm_module dot_module;

/* The first fork; the first COW fault that copies, before and after. */
void dot_at_checkpoint(struct vm *vm, const struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	struct dot_state *s = vm_state(vm, &dot_module);
	const struct books *b = audit_books(a);
	char title[160];
	int r = 0;
	if (!s->dir)
		return;
	int32_t pid, sharer;
	uint64_t va, frame;
	if (cp->checkpoint == COWVMM_CP_FORK && !s->fork_done) {
		s->fork_done = true;
		snprintf(title, sizeof title, "after fork: parent pid %d, child pid %d", cp->pid, cp->pid2);
		r = dot_write(&vm->files, s->dir, "fork", title, b, cp->pid, cp->pid2, 0);
	} else if (cp->checkpoint == COWVMM_CP_COW_BEFORE && !s->cow_done &&
		   audit_cow_before(a, &pid, &va, &frame, &sharer)) {
		s->cow_pid = cp->pid;
		s->cow_va = cp->va;
		s->cow_other = sharer;
		snprintf(title, sizeof title, "COW fault of pid %d at 0x%llx: before", cp->pid,
			 (unsigned long long)cp->va);
		r = dot_write(&vm->files, s->dir, "cow-before", title, b, s->cow_pid, s->cow_other, cp->va);
	} else if (cp->checkpoint == COWVMM_CP_COW_AFTER && !s->cow_done && s->cow_pid == cp->pid &&
		   cp->frame_old != cp->frame_new) {
		s->cow_done = true;
		snprintf(title, sizeof title, "COW fault of pid %d at 0x%llx: after (frame 0x%llx copied to 0x%llx)",
			 cp->pid, (unsigned long long)cp->va, (unsigned long long)cp->frame_old,
			 (unsigned long long)cp->frame_new);
		r = dot_write(&vm->files, s->dir, "cow-after", title, b, s->cow_pid, s->cow_other, cp->va);
	}
	if (r)
		fprintf(stderr, "vmm: --dot %s: %s\n", s->dir, strerror(-r));
}

static const struct vmm_option dot_options[] = {
	{ "dot", true, 0 },
	{ NULL, false, 0 },
};

static int dot_option(struct vm *vm, int id, const char *arg)
{
	(void)id;
	struct dot_state *s = vm_state(vm, &dot_module);
	s->dir = arg;
	inspect_require(vm);
	if (out_allow(&vm->files, arg, OUT_DIR)) {
		fprintf(stderr, "vmm: --dot %s: more than %d output files and directories\nTry 'vmm --help'.\n", arg,
			OUT_MAX);
		return VMM_EXIT_USAGE;
	}
	return 0;
}

static void dot_usage(FILE *f)
{
	fprintf(f,
		"      --dot DIR         Graphviz pictures of parent and child page tables at\n"
		"                        the first fork and around the first COW copy\n"
		"                        (DIR/*.dot, and *.svg when 'dot' is installed)\n");
}

static const struct vmm_module dot_module = {
	.name = "dot",
	.order = 24,
	.state_size = sizeof(struct dot_state),
	.options = dot_options,
	.usage = dot_usage,
	.option = dot_option,
};
VMM_MODULE(dot_module);
