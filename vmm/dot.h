/* vmm/dot.h — --dot: Graphviz pictures of two processes' page-table trees and the frames they reach. */
#ifndef COWVMM_DOT_H
#define COWVMM_DOT_H

#include <stdint.h>

#include "audit.h"

/* Runs of pages collapsed, shared COW frames highlighted, the page at `va`
 * marked.  Writes DIR/NAME.dot and, when `dot` is on PATH, DIR/NAME.svg,
 * through `o` (NULL: straight to disk; see outfile.h).  Returns 0 or
 * -errno.  Pure (but for writing files and running Graphviz). */
struct outfiles;
int dot_write(struct outfiles *o, const char *dir, const char *name, const char *title, const struct books *b,
	      int pid, int pid2, uint64_t va);

struct vm;
/* The module: at a checkpoint, draw the first fork and the first COW copy
 * (before and after). */
void dot_at_checkpoint(struct vm *vm, const struct audit *a, const struct cowvmm_hc_inspect *cp);

#endif /* COWVMM_DOT_H */
