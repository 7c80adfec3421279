/* vmm/guest_mem.h — guest physical memory: every guest-physical access goes through gmem_ptr(). */
#ifndef COWVMM_GUEST_MEM_H
#define COWVMM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Nothing else adds a guest address to the host base: a hostile address or
 * length becomes NULL here, never an out-of-bounds access. */
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

#endif /* COWVMM_GUEST_MEM_H */
