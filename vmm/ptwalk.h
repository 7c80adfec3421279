/* vmm/ptwalk.h — the one walker of guest x86-64 4-level page tables (read-only, no KVM, bounded against hostile tables). */
#ifndef COWVMM_PTWALK_H
#define COWVMM_PTWALK_H

#include <stdbool.h>
#include <stdint.h>

#include "guest_mem.h"

/*
 * Every table is read through gmem_ptr(); a table outside RAM, a reserved
 * bit pattern or a table reached twice is reported as a fault and never
 * followed, so a hostile or corrupt table costs bounded work and never
 * crashes the VMM.  Effective permissions: RW and US anded over every level,
 * NX ored (as the CPU does with CR0.WP=1, EFER.NXE=1).  Everything in the
 * VMM that looks at guest page tables (audit, dumps, pictures, mutation,
 * injection) goes through this walker.
 */
#define PTW_EFF_W  1u  /* writable at every level */
#define PTW_EFF_U  2u  /* user-accessible at every level */
#define PTW_EFF_NX 4u  /* no-execute at some level */

#define PTW_USER_LO 0x0000000000000000ull /* user half: PML4 slots 0..255 */
#define PTW_USER_HI 0x00007fffffffffffull

/* Index of `va`'s entry in its level-`level` table (1 = PT ... 4 = PML4). */
static inline unsigned ptw_index(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 511;
}

struct ptw_leaf {
	uint64_t va;       /* canonical virtual address of the page */
	uint64_t pa;       /* guest-physical base of the page (may lie outside RAM) */
	uint64_t size;     /* 4 KiB, 2 MiB or 1 GiB */
	int level;         /* 1 = PTE, 2 = PDE with PS, 3 = PDPTE with PS */
	uint32_t eff;      /* PTW_EFF_* */
	uint64_t pte;      /* the raw leaf entry */
	uint64_t pte_gpa;  /* where the leaf entry lives */
	bool cow;          /* COWVMM_PTE_COW in the leaf */
	bool zero;         /* COWVMM_PTE_ZERO in the leaf */
};

enum ptw_error {
	PTW_E_NONE = 0,
	PTW_E_NOT_PRESENT,      /* translate only: no mapping */
	PTW_E_NONCANONICAL,     /* the address is not canonical (bits 63:47 differ) */
	PTW_E_OUTSIDE_RAM,      /* a table (or CR3 root) lies outside guest RAM */
	PTW_E_RESERVED,         /* PS in a PML4E, or a large-page address misaligned */
	PTW_E_REVISITED,        /* a table reached twice in one walk (loop or alias) */
	PTW_E_BUDGET,           /* PTW_F_SHARED_OK walk exceeded its work bound */
	PTW_E_COUNT
};

struct ptw_fault {
	enum ptw_error err;
	uint64_t va;         /* first virtual address the broken entry covers */
	int level;           /* level of the table holding the entry (4 = PML4) */
	uint64_t entry;      /* the raw entry (0 for a bad CR3) */
	uint64_t entry_gpa;  /* where the entry lives (0 for a bad CR3) */
	uint64_t target_gpa; /* the table it points to */
};

/* Callbacks; each may be NULL.  A nonzero return stops the walk and becomes
 * ptw_walk()'s result, except PTW_SKIP from table(): the walk does not enter
 * that table and goes on.  table() sees every table page the walk enters
 * (the root first, level 4 .. 1) before its entries; leaf() sees leaves in
 * increasing VA order; fault() sees every broken entry (the walk goes on). */
#define PTW_SKIP 0x5c1b
struct ptw_ops {
	int (*table)(void *ctx, uint64_t table_gpa, int level, uint64_t va);
	int (*leaf)(void *ctx, const struct ptw_leaf *l);
	int (*fault)(void *ctx, const struct ptw_fault *f);
};

/* Tables may legitimately be reached twice (kernel-half aliases): follow
 * them again, bounded by PTW_BUDGET table visits, instead of reporting. */
#define PTW_F_SHARED_OK 1u
#define PTW_BUDGET 65536u

/* Walk the tables rooted at cr3 (bits 51:12 used) over canonical [va_lo,
 * va_hi].  Returns 0, a callback's nonzero value, -EINVAL for a bad range,
 * -ENOMEM. */
int ptw_walk(const struct gmem *m, uint64_t cr3, uint64_t va_lo, uint64_t va_hi,
	     unsigned flags, const struct ptw_ops *ops, void *ctx);

/* Translate one address.  On PTW_E_NONE fills *leaf and *gpa (exact byte
 * address); otherwise fills *f (may be NULL) and returns the error. */
enum ptw_error ptw_translate(const struct gmem *m, uint64_t cr3, uint64_t va,
			     struct ptw_leaf *leaf, uint64_t *gpa, struct ptw_fault *f);

/* Merged view (like QEMU's `info mem`): maximal runs of contiguous VA with
 * the same effective flags and COW flag. */
struct ptw_range {
	uint64_t va, end;   /* [va, end) */
	uint32_t eff;
	bool cow;
	uint64_t pages;     /* 4 KiB pages covered */
};
int ptw_ranges(const struct gmem *m, uint64_t cr3, uint64_t va_lo, uint64_t va_hi,
	       unsigned flags, int (*range)(void *ctx, const struct ptw_range *r),
	       int (*fault)(void *ctx, const struct ptw_fault *f), void *ctx);

bool ptw_canonical(uint64_t va);
const char *ptw_error_name(enum ptw_error e);
/* "urw-" style flags: u/s, r, w/-, x/- plus 'c' for COW. buf >= 8 bytes. */
const char *ptw_flags_str(uint32_t eff, bool cow, char *buf);

#endif /* COWVMM_PTWALK_H */
