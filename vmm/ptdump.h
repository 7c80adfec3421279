/* vmm/ptdump.h — --dump-pt: page tables as text, QEMU `info mem` / `info tlb` style, with COW flag and refcounts. */
#ifndef COWVMM_PTDUMP_H
#define COWVMM_PTDUMP_H

#include <stdint.h>
#include <stdio.h>

#include "books.h"

/* Per process: merged ranges, then pages with the COW flag and the frame's
 * refcount/pins.  `which` is a pid or -1 for every live process.  Pure. */
void ptdump(FILE *f, const struct books *b, int which);

struct vm;
/* The module: at checkpoint number `seq`, dump if --dump-pt asked for it. */
void ptdump_at_checkpoint(struct vm *vm, const struct books *b, const struct cowvmm_hc_inspect *cp,
			  uint64_t seq);
/* End of run: dump now if asked for @end or never done. */
void ptdump_at_end(struct vm *vm, const struct books *b);

#endif /* COWVMM_PTDUMP_H */
