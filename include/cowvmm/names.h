/* include/cowvmm/names.h — printable names of the ABI's enums (checkpoints, hypercalls, process states, crash kinds, vectors, inject sites, bench events), defined once. */
#ifndef COWVMM_NAMES_H
#define COWVMM_NAMES_H

/*
 * These strings are not decoration: reports (text and JSON), --inject and
 * --dump-pt arguments, the guest's own messages and the tests all spell them,
 * so the VMM and the guest must use the same words.  Each table lives in one
 * function here, indexed by the abi.h value with designated initialisers (a
 * renumbered constant keeps its name), bounds-checked (a value from the guest
 * is untrusted: anything out of range or unnamed gives a fixed fallback,
 * never a wild pointer), and checked against the enum's _COUNT where abi.h
 * has one, so a new constant without a name fails to compile.
 *
 * Freestanding: needs only abi.h (<stdint.h>); static inline, so a file that
 * uses none of them pays nothing.  Name -> value lookups (parsing --inject or
 * --bench-json) loop over the values and compare with these functions.
 */

#include "cowvmm/abi.h"

/* The fallbacks are ordinary strings, so callers can print any result directly.
 * (Local to this header: #undef at the end.) */
#define COWVMM_NAMES_LOOKUP_(table, v, fallback) \
	((v) < sizeof(table) / sizeof((table)[0]) && (table)[(v)] ? (table)[(v)] : (fallback))

/* Checkpoint kinds (enum cowvmm_checkpoint): the spelling of reports and
 * of --inject's @CP, "unknown" otherwise. */
static inline const char *cowvmm_checkpoint_name(uint32_t cp)
{
	static const char *const names[] = {
		[COWVMM_CP_BOOT] = "boot",             [COWVMM_CP_FORK] = "fork",
		[COWVMM_CP_COW_BEFORE] = "cow-before", [COWVMM_CP_COW_AFTER] = "cow-after",
		[COWVMM_CP_EXIT] = "exit",             [COWVMM_CP_USER] = "user",
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == COWVMM_CP_COUNT, "name every checkpoint");
	return COWVMM_NAMES_LOOKUP_(names, cp, "unknown");
}

/* Schedule points (enum cowvmm_sched_point), as --explore prints them; "?" otherwise. */
static inline const char *cowvmm_sched_point_name(uint32_t sp)
{
	static const char *const names[] = {
		[COWVMM_SP_WAIT] = "wait",   [COWVMM_SP_IDLE] = "idle",
		[COWVMM_SP_WAKE] = "wake",   [COWVMM_SP_YIELD] = "yield",
		[COWVMM_SP_COW_UNLOCKED] = "cow-unlocked", [COWVMM_SP_COW_COPIED] = "cow-copied",
		[COWVMM_SP_FORK] = "fork",   [COWVMM_SP_EXIT] = "exit",
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == COWVMM_SP_COUNT, "name every schedule point");
	return COWVMM_NAMES_LOOKUP_(names, sp, "?");
}

/* Hypercalls (enum cowvmm_hypercall), lower case as in the report's
 * per-hypercall counts; "?" otherwise. */
static inline const char *cowvmm_hypercall_name(uint32_t nr)
{
	static const char *const names[] = {
		[COWVMM_HC_CONSOLE] = "console",   [COWVMM_HC_EXIT] = "exit",
		[COWVMM_HC_ASSERT] = "assert",     [COWVMM_HC_CRASH] = "crash",
		[COWVMM_HC_DESCRIBE] = "describe", [COWVMM_HC_INSPECT] = "inspect",
		[COWVMM_HC_BENCH] = "bench",       [COWVMM_HC_INJECT] = "inject",
		[COWVMM_HC_CPU_START] = "cpu_start", [COWVMM_HC_SCHED] = "sched",
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == COWVMM_HC_COUNT, "name every hypercall");
	return COWVMM_NAMES_LOOKUP_(names, nr, "?");
}

/* Process states (COWVMM_PSTATE_*), as the guest's process dump and the
 * VMM's --dump-pt print them; "?" otherwise (a corrupt state word). */
static inline const char *cowvmm_pstate_name(uint32_t state)
{
	static const char *const names[] = {
		[COWVMM_PSTATE_UNUSED] = "unused",     [COWVMM_PSTATE_EMBRYO] = "embryo",
		[COWVMM_PSTATE_RUNNABLE] = "runnable", [COWVMM_PSTATE_RUNNING] = "running",
		[COWVMM_PSTATE_SLEEPING] = "sleeping", [COWVMM_PSTATE_ZOMBIE] = "zombie",
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == COWVMM_PSTATE_ZOMBIE + 1, "name every state");
	return COWVMM_NAMES_LOOKUP_(names, state, "?");
}

/* Kinds of struct cowvmm_hc_crash (COWVMM_CRASH_*); "unknown" otherwise. */
static inline const char *cowvmm_crash_kind_name(uint32_t kind)
{
	static const char *const names[] = {
		[COWVMM_CRASH_EXCEPTION] = "exception", [COWVMM_CRASH_PANIC] = "panic",
		[COWVMM_CRASH_HOST_NO_USER_MODE] = "host-no-user-mode",
	};
	return COWVMM_NAMES_LOOKUP_(names, kind, "unknown");
}

/* CPU exception vectors 0..31, mnemonic first ("#PF page fault"), as the
 * VMM's crash report prints them.  The unnamed ones (9 obsolete, 15 and
 * 22..27 reserved, 28..31 only with features this guest never enables) and
 * anything above 31 give "unknown exception". */
static inline const char *cowvmm_vector_name(uint32_t vector)
{
	static const char *const names[32] = {
		[0] = "#DE divide error", [1] = "#DB debug", [2] = "NMI", [3] = "#BP breakpoint",
		[4] = "#OF overflow", [5] = "#BR bound range", [6] = "#UD invalid opcode",
		[7] = "#NM device not available", [8] = "#DF double fault",
		[10] = "#TS invalid TSS", [11] = "#NP segment not present", [12] = "#SS stack fault",
		[13] = "#GP general protection", [14] = "#PF page fault", [16] = "#MF x87 error",
		[17] = "#AC alignment check", [18] = "#MC machine check", [19] = "#XM SIMD error",
		[20] = "#VE virtualization", [21] = "#CP control protection",
	};
	return COWVMM_NAMES_LOOKUP_(names, vector, "unknown exception");
}

/* Allocation sites of the fault-injection plan (enum cowvmm_alloc_site),
 * as --inject alloc:SITE spells them; "?" otherwise. */
static inline const char *cowvmm_site_name(uint32_t site)
{
	static const char *const names[] = {
		[COWVMM_SITE_DATA_FRAME] = "data", [COWVMM_SITE_PT_PAGE] = "pt",
		[COWVMM_SITE_TASK] = "task",       [COWVMM_SITE_KSTACK] = "kstack",
		[COWVMM_SITE_FDTABLE] = "fd",      [COWVMM_SITE_PIPE] = "pipe",
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == COWVMM_SITE_COUNT, "name every site");
	return COWVMM_NAMES_LOOKUP_(names, site, "?");
}

/* Benchmark events (enum cowvmm_bench_event), as the bench report, its JSON
 * and tools/linux-peer name them; "?" otherwise. */
static inline const char *cowvmm_bench_event_name(uint32_t ev)
{
	static const char *const names[] = {
		[COWVMM_EV_COW_FAULT] = "cow_fault",     [COWVMM_EV_COW_WRITE] = "cow_write",
		[COWVMM_EV_REUSE_FAULT] = "reuse_fault", [COWVMM_EV_REUSE_WRITE] = "reuse_write",
		[COWVMM_EV_ZERO_FAULT] = "zero_fault",   [COWVMM_EV_FORK] = "fork",
		[COWVMM_EV_FORK_ROUNDTRIP] = "fork_roundtrip", [COWVMM_EV_PLAIN_WRITE] = "plain_write",
		[COWVMM_EV_COPY_PAGE] = "copy_page",     [COWVMM_EV_COW_WRITE_MT] = "cow_write_mt",
		[COWVMM_EV_FORK_MT] = "fork_mt",
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) == COWVMM_EV_COUNT, "name every event");
	return COWVMM_NAMES_LOOKUP_(names, ev, "?");
}

#undef COWVMM_NAMES_LOOKUP_

#endif /* COWVMM_NAMES_H */
