/* vmm/vmm.h — the VMM's internal interfaces: every function's contract, grouped by module. */
#ifndef COWVMM_VMM_H
#define COWVMM_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cowvmm/abi.h"

/* ===========================================================================
 * Exit statuses of `vmm` (documented in --help and README.md).
 * ========================================================================= */
enum vmm_exit {
	VMM_EXIT_OK = 0,          /* guest exited with status 0 */
	VMM_EXIT_GUEST_FAIL = 1,  /* guest reported failure: nonzero exit, assertion, audit violation */
	VMM_EXIT_USAGE = 2,       /* bad command line or invalid guest image */
	VMM_EXIT_NO_KVM = 3,      /* the host cannot run KVM (no /dev/kvm, missing capability) */
	VMM_EXIT_CRASH = 4,       /* guest crashed: exception, panic, triple fault, bad hypercall */
	VMM_EXIT_TIMEOUT = 5,     /* watchdog fired */
};

/* ===========================================================================
 * guest_mem.c — guest physical memory.  Every guest-physical access goes
 * through gmem_ptr(): nothing else adds a guest address to the host base.
 * ========================================================================= */
struct gmem {
	uint8_t *base;   /* host mapping of guest physical address 0 */
	uint64_t size;   /* bytes of guest RAM */
};

/* Map `size` bytes of anonymous memory for guest RAM and pre-fault every page
 * (so no host first-touch fault lands inside guest timings).  Returns 0, or
 * -errno with nothing mapped. */
int gmem_init(struct gmem *m, uint64_t size);

/* Unmap guest RAM; safe on a zeroed or already-freed gmem. */
void gmem_free(struct gmem *m);

/* Host pointer to guest-physical [gpa, gpa+len), or NULL if any byte of it lies
 * outside guest RAM or the range wraps.  len == 0 is valid for gpa <= size. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);

/* Copy a NUL-terminated guest string at `gpa` into out[outsz]: at most
 * outsz-1 bytes, always terminated.  Returns its length, or -1 if the string
 * starts outside RAM or is not terminated within RAM and outsz-1 bytes. */
int gmem_read_str(const struct gmem *m, uint64_t gpa, char *out, size_t outsz);

#endif /* COWVMM_VMM_H */
