/* tests/unit/fakeguest.h — a synthetic guest RAM with page tables built by hand (TAP from tap.h). */
#ifndef FAKEGUEST_H
#define FAKEGUEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowvmm/abi.h"
#include "guest_mem.h"
#include "ptwalk.h"
#include "tap.h"

/* ---- fake RAM ---------------------------------------------------------- */
#define PG 4096ull
#define TBL (COWVMM_PTE_P | COWVMM_PTE_RW | COWVMM_PTE_US) /* intermediate entries */

struct fake {
	struct gmem m;
	uint64_t next;   /* bump allocator for table pages */
	uint64_t limit;  /* the allocator stays below this GPA */
};

static inline void fake_init(struct fake *f, uint64_t size, uint64_t tables_from, uint64_t tables_to)
{
	f->m.base = aligned_alloc(PG, size);
	if (!f->m.base) {
		printf("Bail out! no memory for fake RAM\n");
		exit(1);
	}
	memset(f->m.base, 0, size);
	f->m.size = size;
	f->next = tables_from;
	f->limit = tables_to;
}

static inline void fake_free(struct fake *f)
{
	free(f->m.base);
	f->m.base = NULL;
}

static inline uint64_t *fake_u64(struct fake *f, uint64_t gpa)
{
	return (uint64_t *)gmem_ptr(&f->m, gpa, 8);
}

static inline uint32_t *fake_u32(struct fake *f, uint64_t gpa)
{
	return (uint32_t *)gmem_ptr(&f->m, gpa, 4);
}

static inline uint64_t fake_table(struct fake *f)
{
	if (f->next + PG > f->limit) {
		printf("Bail out! fake table area exhausted\n");
		exit(1);
	}
	uint64_t t = f->next;
	f->next += PG;
	memset(gmem_ptr(&f->m, t, PG), 0, PG);
	return t;
}

/* Address of the entry for `va` at `level` (4 = PML4) under root, creating
 * intermediate tables with TBL flags as needed.  Level must be >= 1. */
static inline uint64_t fake_entry(struct fake *f, uint64_t root, uint64_t va, int level)
{
	uint64_t t = root;
	for (int l = 4; ; l--) {
		uint64_t egpa = t + 8 * ptw_index(va, l);
		if (l == level)
			return egpa;
		uint64_t *e = fake_u64(f, egpa);
		if (!(*e & COWVMM_PTE_P))
			*e = fake_table(f) | TBL;
		t = *e & COWVMM_PTE_ADDR;
	}
}

/* Map one page of the given level (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB). */
static inline uint64_t fake_map(struct fake *f, uint64_t root, uint64_t va, uint64_t pa,
				uint64_t flags, int level)
{
	uint64_t egpa = fake_entry(f, root, va, level);
	*fake_u64(f, egpa) = pa | flags | COWVMM_PTE_P | (level > 1 ? COWVMM_PTE_PS : 0);
	return egpa;
}

static inline uint64_t fake_pte(struct fake *f, uint64_t root, uint64_t va)
{
	return *fake_u64(f, fake_entry(f, root, va, 1));
}

#endif /* FAKEGUEST_H */
