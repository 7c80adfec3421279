/* vmm/books.h — the guest's books, read from outside: its process table and frame reference/pin arrays (HC_DESCRIBE). */
#ifndef COWVMM_BOOKS_H
#define COWVMM_BOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cowvmm/abi.h"
#include "guest_mem.h"

/*
 * At boot the guest describes where it keeps its books (struct
 * cowvmm_hc_describe).  Everything in the VMM that reads them goes through
 * these helpers, which bounds-check each entry and each frame number against
 * the descriptor and guest RAM at every read (the guest may change them at
 * any time).  Pure: no KVM, unit-tested on a simulated guest.
 */
struct books {
	const struct gmem *m;
	bool valid;                      /* a descriptor was adopted */
	struct cowvmm_hc_describe d;     /* validated copy */
};

/* One process-table entry as the guest wrote it (name made printable). */
struct guest_proc {
	int32_t pid, ppid;
	int32_t tgid;        /* thread group (off_tgid); pid itself when the guest has no threads */
	uint32_t state;      /* COWVMM_PSTATE_* */
	uint64_t cr3;
	char name[17];
};

/* Check a descriptor against RAM of `ram_size` bytes (describe.c): 0, or -1
 * with a one-line reason in err. */
int describe_validate(const struct cowvmm_hc_describe *d, uint64_t ram_size, char *err, size_t errsz);

/* Adopt a descriptor already checked by describe_validate(). */
void books_init(struct books *b, const struct gmem *m, const struct cowvmm_hc_describe *d);

/* Entry `slot` (0 .. nproc-1): false for a free slot or an unreadable entry. */
bool books_proc(const struct books *b, uint32_t slot, struct guest_proc *out);
/* The first live entry of `pid` (and its slot, if `slot`): false if none. */
bool books_find_pid(const struct books *b, int32_t pid, struct guest_proc *out, uint32_t *slot);
/* The entry that holds the regions of pid's thread group: the slot whose pid
 * is pid's tgid (pid's own without threads), which must lead its group (its
 * tgid is its pid).  It may be a ZOMBIE with no address space: the guest
 * keeps the leader's slot until the group's last thread is gone.  False if
 * pid has no entry or its group no leader. */
bool books_find_leader(const struct books *b, int32_t pid, struct guest_proc *out, uint32_t *slot);
/* Process-table entry `slot` in guest RAM (stride bytes), or NULL. */
const uint8_t *books_proc_entry(const struct books *b, uint32_t slot);
/* Whether a process in `state` with root `cr3` still has an address space
 * to walk (not a zombie, and a root table). */
bool books_has_mm(uint32_t state, uint64_t cr3);

/* Address spaces.  Entries with the same page-table root share one address
 * space (the threads of a group: the ABI's off_tgid), and everything that
 * walks address spaces walks each once, under the pid of its owner: the
 * group leader while it has the address space, else the lowest pid running
 * on those tables (threads come and go; the choice must not depend on the
 * slot order). */
struct books_as_key {
	uint64_t root;       /* cr3 & COWVMM_PTE_ADDR */
	int32_t pid, tgid;
	uint32_t idx;        /* the caller's: a slot, or an index into its own list */
};
static inline uint64_t books_root(uint64_t cr3) { return cr3 & COWVMM_PTE_ADDR; }
/* Sort by root, each root's owner first (a leader before threads, then the lowest pid). */
void books_as_sort(struct books_as_key *k, size_t n);
/* The owner's key of `root` in keys sorted by books_as_sort(), or NULL. */
const struct books_as_key *books_as_find(const struct books_as_key *k, size_t n, uint64_t root);
/* Every entry with an address space (books_has_mm) as a key (idx = slot),
 * sorted, in *out (free() it): 0, or -1 when out of memory. */
int books_as_read(const struct books *b, struct books_as_key **out, size_t *n);

/* Where frame f's reference count / pin count lives in guest RAM (writable:
 * --mutate edits it), or NULL if f is outside the books or the array is. */
uint32_t *books_refcount_ptr(const struct books *b, uint64_t f);
uint32_t *books_pins_ptr(const struct books *b, uint64_t f);
/* Both counts of frame f: false if unknown. */
bool books_frame_counts(const struct books *b, uint64_t f, uint32_t *refcount, uint32_t *pins);
/* Frame f's reference count, or -1 if unknown. */
int64_t books_refcount(const struct books *b, uint64_t f);

/* books_hc.c: the module that takes HC_DESCRIBE.  This run's books (valid
 * once the guest described them). */
struct vm;
const struct books *vm_books(const struct vm *vm);

#endif /* COWVMM_BOOKS_H */
