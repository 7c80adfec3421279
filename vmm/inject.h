/* vmm/inject.h — fault injection driven by the VMM: plans, grammar, actions, and the module's state. */
#ifndef COWVMM_INJECT_H
#define COWVMM_INJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cowvmm/abi.h"

/*
 * - alloc rules go into a struct cowvmm_inject_plan page at a GPA below the
 *   kernel (boot_info.inject_gpa); the guest's should_fail() obeys it and
 *   fills the OUT counters, printed at the end of the run;
 * - exc:/pte: actions fire at the N-th HC_INJECT point of a checkpoint kind
 *   (inject_hc) or after the N-th VM exit (inject_on_exit).  A PTE edit sets
 *   `applied` so the guest flushes its TLB before going on.  A #PF is
 *   delivered at CPL 3 when the process returns to user mode (single-step
 *   from the inject point, KVM_EXIT_DEBUG -> inject_on_debug); an NMI is
 *   delivered at once.
 */

/*
 * Grammar of one --inject SPEC (repeatable; each adds one rule or action):
 *
 *   count                          install an all-off plan: only count calls
 *   alloc:SITE:nth=N               fail only the N-th call (1-based)
 *   alloc:SITE:from=N              fail every call from the N-th on
 *   alloc:SITE:every=N             fail calls N, 2N, 3N, ...
 *   alloc:SITE:p=P | ppm=N         fail with probability P (0<P<=1), seeded by --seed
 *        SITE = data|pt|task|kstack|fd|pipe|any  (any: one counter over all sites)
 *   exc:KIND@WHEN[,cr2=VA][,err=E] KIND = pf-spurious|pf-cow|nmi
 *   pte:KIND@WHEN[,va=VA]          KIND = clear-rw|clear-p|set-cow|free-frame
 *        WHEN = CP[:N]   the N-th (default 1st) HC_INJECT point of checkpoint kind CP,
 *                        CP = boot|fork|cow-before|cow-after|exit|user|any
 *             | exits=N  after the N-th VM exit (exceptions only)
 */

enum inject_kind {
	INJ_PF_SPURIOUS, /* #PF on an address already writable / already copied: must be a no-op */
	INJ_PF_COW,      /* write #PF on a COW page the guest did not write: a legal extra COW fault */
	INJ_NMI,         /* an NMI out of the blue */
	INJ_CLEAR_RW,    /* clear RW on a private writable page */
	INJ_CLEAR_P,     /* clear P on a present user page */
	INJ_SET_COW,     /* set COW (and clear RW) on an exclusive writable page */
	INJ_FREE_FRAME,  /* point a user PTE at a free frame */
	INJ_KIND_COUNT
};

#define INJECT_CP_ANY   COWVMM_CP_COUNT /* any checkpoint kind */
#define INJECT_AT_EXITS (-1)            /* trigger on the exit count instead */
#define INJECT_MAX_ACTIONS 16
#define INJECT_SPEC_MAX 96

struct inject_action {
	enum inject_kind kind;
	int cp;            /* enum cowvmm_checkpoint, INJECT_CP_ANY or INJECT_AT_EXITS */
	uint64_t nth;      /* the N-th matching point, or the N-th exit */
	bool have_addr;    /* cr2= / va= given: target this address */
	uint64_t addr;
	bool have_err;     /* err= given: this #PF error code */
	uint64_t err;
	char spec[INJECT_SPEC_MAX]; /* as given, for reports */
	/* Run state. */
	uint64_t seen;     /* matching points seen so far */
	bool fired;        /* its point came (applied or not) */
	bool applied;      /* it changed the guest */
	char result[192];  /* what it did, or why it could not */
};

struct inject_cfg {
	bool enabled;      /* some --inject given: install a plan and report at the end */
	bool plan_armed;   /* some alloc rule given */
	struct cowvmm_inject_plan plan; /* IN half, as parsed (magic/seed set at install) */
	unsigned nactions;
	struct inject_action act[INJECT_MAX_ACTIONS];
	/* Run state. */
	uint64_t plan_gpa;
	uint64_t exits;
	uint64_t points[COWVMM_CP_COUNT]; /* HC_INJECT points seen, by checkpoint */
};

/* A #PF waiting for the vCPU to reach user mode (inject_apply.c). */
struct inject_armed {
	struct inject_action *a; /* NULL when nothing is armed */
	uint64_t cr3, rip, cr2;
	uint32_t err;
	int pid;
	unsigned steps;
};

/* The module's per-run state (vm_state()). */
struct inject_state {
	struct inject_cfg cfg;
	struct inject_armed armed;
};

struct vm;
struct vcpu;
struct inject_state *inject_state(const struct vm *vm);
struct cowvmm_boot_info;
/* The module's boot hook: write the plan page (when some --inject was
 * given) and point the boot info at it.  0 or an enum vmm_exit. */
int inject_install(struct vm *vm, struct cowvmm_boot_info *bi);

/* inject_apply.c: HC_INJECT, the per-exit hook and the KVM_EXIT_DEBUG
 * handler (registered by the module in inject.c). */
int inject_hc(struct vcpu *v, void *arg);
void inject_on_exit(struct vcpu *v);
int inject_on_debug(struct vcpu *v);

/* Add SPEC to *c.  Pure (unit-tested).  Returns 0, or -1 with a one-line
 * reason in err[errsz]. */
int inject_parse(struct inject_cfg *c, const char *spec, char *err, size_t errsz);

/* Print the grammar (the --help section) to f. */
void inject_usage(FILE *f);

/* Name of a kind / site / checkpoint (for reports). */
const char *inject_kind_name(enum inject_kind k);
const char *inject_site_name(unsigned site);
const char *inject_cp_name(int cp);

#endif /* COWVMM_INJECT_H */
