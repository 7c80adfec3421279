/* vmm/dirty.h — KVM dirty logging on guest RAM, checked at COW faults (verification runs; never with --bench). */
#ifndef COWVMM_DIRTY_H
#define COWVMM_DIRTY_H

#include <stdint.h>

#include "audit.h"

struct vm;
struct vcpu;

/* Called by the inspect module: at the first checkpoint (enable logging on
 * memslot 0 unless --no-dirty-log or a timing run), before each audit (the
 * bitmap of frames written since the fault's CP_COW_BEFORE, when this fault
 * is checked; else NULL), after the audit of a clean CP_COW_BEFORE (reset
 * the log: arm the next check), and at the end (one summary line). */
void dirty_start(struct vm *vm);
const uint64_t *dirty_before_audit(struct vm *vm, const struct cowvmm_hc_inspect *cp, uint64_t *nbits);
void dirty_arm(struct vcpu *v, const struct audit *a);
void dirty_summary(const struct vm *vm);
/* For the report: "off", "on" or "failed", why, and faults checked. */
void dirty_info(const struct vm *vm, const char **state, const char **why, uint64_t *checked);

#endif /* COWVMM_DIRTY_H */
