/* vmm/inspect.h — the audit module: HC_INSPECT checkpoints, the audit options, and the sub-features called at each checkpoint. */
#ifndef COWVMM_INSPECT_H
#define COWVMM_INSPECT_H

#include <stdbool.h>

/*
 * At each guest checkpoint (HC_INSPECT) the inspect module, in this order:
 * applies a pending --mutate (mutate.h), fetches KVM's dirty log when armed
 * (dirty.h), runs the audit (audit.h), judges the dirty log, cross-checks
 * the walker against KVM_TRANSLATE when the audited CR3 is the vCPU's,
 * records the checkpoint (report.h), takes --dump-pt / --dot snapshots
 * (ptdump.h, dot.h) and the --html step (html.h), writes the verdict back, and ends the run with
 * VMM_EXIT_GUEST_FAIL on a violation (unless --audit-continue).
 */
struct vm;

#define AUDIT_FULL_EVERY_DEFAULT 64u /* --audit-full-every */

/* An option of another module needs checkpoints (--dump-pt, --dot,
 * --mutate): audit even where the default would not (--bench). */
void inspect_require(struct vm *vm);
/* Whether this run audits (decided at setup). */
bool inspect_auditing(const struct vm *vm);
/* --audit-full-every N: also the dirty log's sampling period. */
unsigned inspect_full_every(const struct vm *vm);

#endif /* COWVMM_INSPECT_H */
