/* vmm/bench.h — state shared by the bench modules (collection, report, plots); the API is in vmm.h. */
#ifndef COWVMM_BENCH_H
#define COWVMM_BENCH_H

#include <stdio.h>

#include "vmm.h"

/* KVM per-vCPU statistics followed around each timed loop, by descriptor name.
 * "exits" counts every exit; the others say what kind they were.  A stat the
 * host's KVM does not publish is simply absent (have == false). */
enum bench_kstat {
	KS_EXITS, KS_IO, KS_MMIO, KS_HALT, KS_IRQ, KS_SIGNAL, KS_IRQ_WINDOW,
	KS_REQUEST_IRQ, KS_NMI_WINDOW, KS_PF_GUEST, KS_PF_TAKEN, KS_INSN_EMUL, KS_COUNT
};

/* One timed loop: what the guest said it timed, and what happened inside. */
struct bench_loop {
	uint32_t event, arg;           /* label from phase 0 (count = event | arg << 32) */
	bool label_mismatch;           /* phase 1 named another loop than phase 0 */
	int64_t kd[KS_COUNT];          /* KVM stat deltas phase 0 -> phase 1 */
	bool have_g;                   /* guest counters were readable at both ends */
	struct cowvmm_guest_stats gd;  /* guest counter deltas */
};

/* One (event, arg) group of samples, sorted. */
struct bench_group {
	uint32_t event, arg;
	uint64_t count, min, p50, p90, p99, max;
	double mean;
	const uint64_t *ticks;        /* sorted ascending, `count` of them */
};

/* A line of another system's figures (tools/linux-peer output). */
struct bench_peer {
	char event[32];
	uint32_t n;
	uint64_t count, min, p50, p90, p99, max, mean;
};

struct bench_kstat_info {
	const char *name;   /* KVM descriptor name */
	bool have;
	uint64_t offset;    /* byte offset of its value in the stats fd */
};

struct bench_state {
	struct bench_opts o;
	uint64_t tsc_khz;                 /* 0 if unknown */
	int stats_fd;                     /* -1 if none */
	char stats_why[128];              /* why there are no KVM statistics */
	struct bench_kstat_info ks[KS_COUNT];
	/* The open loop, if any. */
	bool open;
	uint32_t open_event, open_arg;
	uint64_t k0[KS_COUNT];
	bool have_g0;
	struct cowvmm_guest_stats g0;
	/* Everything recorded. */
	struct bench_loop *loops;
	size_t nloops, caploops;
	struct cowvmm_sample *samples;    /* copied out of guest RAM at phase 2 */
	size_t nsamples, capsamples;
	unsigned submits;                 /* phase-2 calls */
	/* Filled by bench_finish(). */
	struct bench_group *groups;
	size_t ngroups;
	uint64_t *sorted;                 /* backing store of the groups' ticks */
	struct bench_peer *peer;
	size_t npeer;
};

extern struct bench_state bench_st;

/* Name of a COWVMM_EV_* ("cow_write"...), or "?" */
const char *bench_event_name(uint32_t ev);
/* Event whose name is `s`, or COWVMM_EV_COUNT. */
uint32_t bench_event_by_name(const char *s);
/* Ticks -> ns with the vCPU's TSC rate (negative if unknown). */
double bench_ns(uint64_t ticks);
/* The group (event, arg), or NULL. */
const struct bench_group *bench_group_find(uint32_t event, uint32_t arg);
/* Peer figures for (event name, n), or NULL. */
const struct bench_peer *bench_peer_find(const char *event, uint32_t n);

/* bench_report.c */
void bench_print_table(FILE *out);
int bench_write_json(const char *path);
/* bench_svg.c: every plot into dir; returns 0 or -1 after a message. */
int bench_write_svg(const char *dir);

#endif
