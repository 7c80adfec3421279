/* tests/unit/simguest.h — a miniature guest kernel in fake RAM (process table, refcounts, page tables, fork, COW) for the unit tests. */
#ifndef SIMGUEST_H
#define SIMGUEST_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "fakeguest.h"

/* Follows guest/kernel/mm.h's rules: refcount = PTEs + pins, tables and the
 * zero frame pinned, fork shares every page COW, a COW write copies unless
 * the writer is the last user. */
#define PROC_GPA   0x2000ull
#define NPROC      8
#define STRIDE     512 /* pid, ppid, state, tgid, cr3, name; regions from REG_OFF */
#define TGID_OFF   12  /* int32 thread-group id, where the guest's entry has padding */
#define NREG_OFF   40
#define REG_OFF    48
#define MAX_REG    16
#define RC_GPA     0x10000ull
#define FIRST      0x100ull /* first managed frame (1 MiB) */
#define TEXT_FLAGS (COWVMM_PTE_US)
#define DATA_FLAGS (COWVMM_PTE_US | COWVMM_PTE_RW | COWVMM_PTE_NX)

struct sim {
	struct fake f;
	struct cowvmm_hc_describe d;
	uint64_t nframes;
	uint64_t cursor;  /* next frame the allocator looks at */
	uint64_t root[NPROC];
	struct audit *a;
};

static inline uint32_t *rc(struct sim *s, uint64_t f) { return fake_u32(&s->f, s->d.refcount_gpa + 4 * f); }
static inline uint32_t *pins(struct sim *s, uint64_t f) { return fake_u32(&s->f, s->d.pins_gpa + 4 * f); }
static inline uint64_t *freec(struct sim *s) { return fake_u64(&s->f, s->d.free_count_gpa); }
static inline uint8_t *frame_mem(struct sim *s, uint64_t f) { return gmem_ptr(&s->f.m, f * PG, PG); }

static inline uint64_t sim_alloc(struct sim *s, bool pinned)
{
	for (uint64_t n = 0; n < s->nframes; n++) {
		uint64_t f = s->cursor;
		s->cursor = s->cursor + 1 >= s->nframes ? FIRST : s->cursor + 1;
		if (*rc(s, f) == 0) {
			*rc(s, f) = 1;
			*pins(s, f) = pinned;
			(*freec(s))--;
			memset(frame_mem(s, f), 0, PG);
			return f;
		}
	}
	printf("Bail out! simulated guest out of frames\n");
	exit(1);
}

static inline void sim_init(struct sim *s, uint64_t ram)
{
	memset(s, 0, sizeof *s);
	fake_init(&s->f, ram, 0, 0);
	s->nframes = ram / PG;
	uint64_t rc_bytes = (4 * s->nframes + PG - 1) & ~(PG - 1);
	s->d = (struct cowvmm_hc_describe){
		.layout_version = COWVMM_LAYOUT_VERSION, .nproc = NPROC, .proc_table_gpa = PROC_GPA,
		.proc = { .stride = STRIDE, .off_pid = 0, .off_ppid = 4, .off_state = 8, .off_cr3 = 16, .off_name = 24,
			  .off_tgid = TGID_OFF },
		.refcount_gpa = RC_GPA, .nframes = s->nframes, .first_frame = FIRST,
		.pins_gpa = RC_GPA + rc_bytes, .free_count_gpa = RC_GPA + 2 * rc_bytes,
		.stats_gpa = RC_GPA + 2 * rc_bytes + 64, .kernel_pml4_gpa = 0x3000,
	};
	if (RC_GPA + 2 * rc_bytes + PG > FIRST * PG) {
		printf("Bail out! fake RAM too large for the fixed layout\n");
		exit(1);
	}
	*freec(s) = s->nframes - FIRST;
	s->cursor = FIRST;
	s->d.zero_frame = sim_alloc(s, true);
	s->a = audit_new(&s->f.m);
	char err[200];
	if (audit_set_descriptor(s->a, &s->d, err, sizeof err)) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
}

static inline void sim_free(struct sim *s)
{
	audit_free(s->a);
	fake_free(&s->f);
}

#define VA_TEXT 0x400000ull
#define VA_DATA 0x600000ull
#define VA_ZERO 0x700000ull
static inline uint8_t *slot(struct sim *s, int i) { return gmem_ptr(&s->f.m, PROC_GPA + (uint64_t)i * STRIDE, STRIDE); }

static inline void sim_proc(struct sim *s, int i, int32_t pid, int32_t ppid, const char *name)
{
	uint8_t *e = slot(s, i);
	s->root[i] = sim_alloc(s, true) * PG;
	uint32_t st = COWVMM_PSTATE_RUNNABLE;
	memcpy(e + 0, &pid, 4);
	memcpy(e + 4, &ppid, 4);
	memcpy(e + 8, &st, 4);
	memcpy(e + TGID_OFF, &pid, 4); /* a process leads its own thread group */
	memcpy(e + 16, &s->root[i], 8);
	strncpy((char *)e + 24, name, 16);
	/* The regions of scenario(), read by the audit only when the descriptor says so. */
	const struct cowvmm_region reg[] = {
		{ VA_TEXT, VA_TEXT + 2 * PG, COWVMM_PROT_READ | COWVMM_PROT_EXEC, COWVMM_REGION_TEXT },
		{ VA_DATA, VA_DATA + 8 * PG, COWVMM_PROT_READ | COWVMM_PROT_WRITE, COWVMM_REGION_DATA },
		{ VA_ZERO, VA_ZERO + PG, COWVMM_PROT_READ | COWVMM_PROT_WRITE, COWVMM_REGION_MMAP },
	};
	int32_t n = 3;
	memcpy(e + NREG_OFF, &n, 4);
	memcpy(e + REG_OFF, reg, sizeof reg);
}

/* A thread of the group led by the process in slot `leader`: its own entry
 * in slot i on the leader's page-table root.  The group's regions stay in
 * the leader's entry: the thread's says it has none. */
static inline void sim_thread(struct sim *s, int i, int32_t pid, int leader)
{
	uint8_t *e = slot(s, i), *l = slot(s, leader);
	int32_t tgid, ppid, none = 0;
	memcpy(&tgid, l + TGID_OFF, 4);
	memcpy(&ppid, l + 4, 4);
	memset(e, 0, STRIDE);
	s->root[i] = s->root[leader];
	uint32_t st = COWVMM_PSTATE_RUNNABLE;
	memcpy(e + 0, &pid, 4);
	memcpy(e + 4, &ppid, 4);
	memcpy(e + 8, &st, 4);
	memcpy(e + TGID_OFF, &tgid, 4);
	memcpy(e + 16, &s->root[i], 8);
	memcpy(e + 24, l + 24, 16);
	memcpy(e + NREG_OFF, &none, 4);
}

/* Address of the PTE for va, creating pinned table pages as the guest does. */
static inline uint64_t *sim_pte(struct sim *s, int i, uint64_t va)
{
	uint64_t t = s->root[i];
	for (int l = 4; l > 1; l--) {
		uint64_t *e = fake_u64(&s->f, t + 8 * ptw_index(va, l));
		if (!(*e & COWVMM_PTE_P))
			*e = sim_alloc(s, true) * PG | TBL;
		t = *e & COWVMM_PTE_ADDR;
	}
	return fake_u64(&s->f, t + 8 * ptw_index(va, 1));
}

/* A fresh private page filled with a pattern. */
static inline uint64_t sim_page(struct sim *s, int i, uint64_t va, uint64_t flags)
{
	uint64_t f = sim_alloc(s, false);
	memset(frame_mem(s, f), (int)(va >> 12) ^ i, PG);
	*sim_pte(s, i, va) = f * PG | flags | COWVMM_PTE_P;
	return f;
}

/* The zero frame, read-only. */
static inline void sim_zero(struct sim *s, int i, uint64_t va)
{
	(*rc(s, s->d.zero_frame))++;
	*sim_pte(s, i, va) = s->d.zero_frame * PG | COWVMM_PTE_US | COWVMM_PTE_ZERO | COWVMM_PTE_P;
}

struct collect {
	uint64_t va[20000];
	size_t n;
};

static inline int collect_leaf(void *ctx, const struct ptw_leaf *l)
{
	struct collect *c = ctx;
	c->va[c->n++] = l->va;
	return 0;
}

struct tables {
	uint64_t f[16];
	size_t n;
};

static inline int collect_table(void *ctx, uint64_t gpa, int level, uint64_t va)
{
	struct tables *t = ctx;
	(void)level, (void)va;
	if (t->n < 16)
		t->f[t->n++] = gpa / PG;
	return 0;
}

/* fork(): share every user page copy-on-write, as the guest's copy_mm does. */
static inline void sim_fork(struct sim *s, int parent, int child, int32_t pid)
{
	static struct collect c;
	int32_t ppid;
	memcpy(&ppid, slot(s, parent), 4);
	sim_proc(s, child, pid, ppid, "child");
	c.n = 0;
	const struct ptw_ops ops = { .leaf = collect_leaf };
	ptw_walk(&s->f.m, s->root[parent], PTW_USER_LO, PTW_USER_HI, 0, &ops, &c);
	for (size_t k = 0; k < c.n; k++) {
		uint64_t *pe = sim_pte(s, parent, c.va[k]);
		if (*pe & COWVMM_PTE_RW)
			*pe = (*pe & ~COWVMM_PTE_RW) | COWVMM_PTE_COW;
		*sim_pte(s, child, c.va[k]) = *pe;
		(*rc(s, (*pe & COWVMM_PTE_ADDR) / PG))++;
	}
}

/* Resolve a write fault on a COW page the way the guest must. */
static inline void sim_cow(struct sim *s, int i, uint64_t va, uint64_t *fo, uint64_t *fn)
{
	uint64_t *pe = sim_pte(s, i, va);
	uint64_t old = (*pe & COWVMM_PTE_ADDR) / PG;
	uint64_t flags = (*pe & ~COWVMM_PTE_ADDR & ~COWVMM_PTE_COW & ~COWVMM_PTE_ZERO) |
			 COWVMM_PTE_RW | COWVMM_PTE_D | COWVMM_PTE_A;
	*fo = old;
	if (*rc(s, old) == 1) {
		*fn = old;
		*pe = old * PG | flags;
		return;
	}
	uint64_t f = sim_alloc(s, false);
	memcpy(frame_mem(s, f), frame_mem(s, old), PG);
	(*rc(s, old))--;
	*pe = f * PG | flags;
	*fn = f;
}

/* Parent pid 1 in slot 0: 2 text pages, 8 data pages, 1 zero page; forked into pid 2 in slot 1. */
static inline void scenario(struct sim *s, uint64_t ram)
{
	sim_init(s, ram);
	sim_proc(s, 0, 1, 0, "init");
	for (int k = 0; k < 2; k++)
		sim_page(s, 0, VA_TEXT + k * PG, TEXT_FLAGS);
	for (int k = 0; k < 8; k++)
		sim_page(s, 0, VA_DATA + k * PG, DATA_FLAGS);
	sim_zero(s, 0, VA_ZERO);
	sim_fork(s, 0, 1, 2);
}

#endif /* SIMGUEST_H */
