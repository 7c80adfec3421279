/* vmm/report.h — the run's record: checkpoints, violations, per-process pages, VM exits; as text and versioned JSON. */
#ifndef COWVMM_REPORT_H
#define COWVMM_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "audit.h"

/* The report module counts every VM exit (its per-exit hook), keeps what
 * the audits found (report_checkpoint(), from the inspect module), prints
 * the text summary when asked and writes --report FILE (JSON,
 * doc/report-schema.md) at the end of the run. */
#define REPORT_SCHEMA_VERSION 1
struct vm;

void report_checkpoint(struct vm *vm, unsigned vcpu, const struct cowvmm_hc_inspect *cp, const struct audit *a);
/* How the run audited: COW checkpoint counts (audit_counts()), the sampling
 * period, and the dirty log's state. */
void report_audit_info(struct vm *vm, uint64_t full, uint64_t local, uint64_t fallback, unsigned full_every);
void report_text(const struct vm *vm, FILE *f, int status);
/* JSON of the run to `path` (through vm->files): 0 or -errno. */
int report_json(struct vm *vm, const char *path, int status);

#endif /* COWVMM_REPORT_H */
