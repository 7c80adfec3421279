/* vmm/elf_load.h — the guest kernel image: validated completely before one byte of it reaches guest RAM. */
#ifndef COWVMM_ELF_LOAD_H
#define COWVMM_ELF_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"

struct ksym {
	uint64_t addr;   /* st_value (kernel virtual address) */
	uint64_t size;   /* st_size, 0 if unknown */
	char *name;
};

struct kimage {
	uint64_t entry;          /* e_entry (kernel virtual) */
	uint64_t kernel_end_gpa; /* first GPA past the highest PT_LOAD, page aligned */
	struct ksym *syms;       /* STT_FUNC/STT_OBJECT symbols sorted by addr */
	size_t nsyms;
};

/* Check that img[0..size) is a kernel image this VMM can boot into `ram_size`
 * bytes of RAM (every rule of the ABI: ELF64 little-endian x86-64 ET_EXEC,
 * PT_LOADs inside the file and inside RAM at or above COWVMM_KERNEL_MIN_GPA,
 * p_vaddr == COWVMM_KERNEL_BASE + p_paddr, no overlap, sane alignment, entry
 * in an executable PT_LOAD).  Touches nothing but err.  Returns 0, or -1 with
 * a one-line reason in err[errsz].  `img` is not modified. */
int elf_validate(const void *img, size_t size, uint64_t ram_size, char *err, size_t errsz);

/* elf_validate(), then copy every PT_LOAD into guest RAM (zeroing the
 * p_memsz tail) and fill *k (entry, kernel_end_gpa, symbols).  On failure
 * returns -1 with err set and RAM untouched. */
int elf_load_image(const void *img, size_t size, struct gmem *m, struct kimage *k,
		   char *err, size_t errsz);

/* Read the file at `path` and elf_load_image() it. */
int elf_load_file(const char *path, struct gmem *m, struct kimage *k, char *err, size_t errsz);

/* Free the symbol table; safe on a zeroed kimage. */
void kimage_free(struct kimage *k);

/* "name+0xoff" for a kernel virtual address into buf[n] (or "0x..." when no
 * symbol covers it; k may be NULL).  Returns buf. */
const char *sym_lookup(const struct kimage *k, uint64_t addr, char *buf, size_t n);

#endif /* COWVMM_ELF_LOAD_H */
