/* vmm/mutate.h — --mutate: break one COW invariant on purpose, to show the audit catches it. */
#ifndef COWVMM_MUTATE_H
#define COWVMM_MUTATE_H

#include <stdbool.h>
#include <stddef.h>

#include "books.h"

/* A buggy kernel's mistakes, made in guest memory: a shared COW frame made
 * writable, a reference leaked or dropped, a PTE pointed at a free frame
 * (mutate_apply(), at the first fork checkpoint, on the parent's first COW
 * page); or dirty-old: KVM itself writes the shared old frame of the first
 * checked COW fault that copies (dirty.c applies it: it needs KVM). */
extern const char *const mutate_kinds[]; /* NULL-terminated */
bool mutate_kind_valid(const char *kind);
/* Pure: returns true (and says what it did in what[n]) if applied. */
bool mutate_apply(const struct books *b, const char *kind, const struct cowvmm_hc_inspect *cp,
		  char *what, size_t n);

struct vm;
/* The module (mutate.c): the kind asked for (NULL if none), whether it has
 * been applied, and the checkpoint step. */
const char *mutate_kind(const struct vm *vm);
bool mutate_pending(const struct vm *vm, const char *kind);
void mutate_done(struct vm *vm);
/* At a checkpoint, before the audit: apply the kind if it is due. */
void mutate_at_checkpoint(struct vm *vm, const struct books *b, const struct cowvmm_hc_inspect *cp);
/* End of run: say so if the mutation never found its checkpoint. */
void mutate_report(const struct vm *vm);

#endif /* COWVMM_MUTATE_H */
