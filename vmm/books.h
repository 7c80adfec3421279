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
/* Process-table entry `slot` in guest RAM (stride bytes), or NULL. */
const uint8_t *books_proc_entry(const struct books *b, uint32_t slot);
/* Whether a process in `state` with root `cr3` still has an address space
 * to walk (not a zombie, and a root table). */
bool books_has_mm(uint32_t state, uint64_t cr3);

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
