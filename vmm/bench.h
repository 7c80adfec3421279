/* vmm/bench.h — the timing module (--bench): its state, shared by collection, report and plots. */
#ifndef COWVMM_BENCH_H
#define COWVMM_BENCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cowvmm/abi.h"
#include "outfile.h"

/*
 * bench.c, bench_report.c, bench_svg.c — timing runs (HC_BENCH, `--bench`).
 * The guest brackets each timed loop with HC_BENCH phase 0 / phase 1 and hands
 * all its TSC samples over once at the end (phase 2).  At phase 0 and 1 the VMM
 * reads every vCPU's binary statistics (KVM_GET_STATS_FD, counters found by
 * name; summed, and the exits also kept per vCPU) and the guest's counters,
 * so each loop shows how many VM exits happened inside it (its closing
 * phase-1 exit accounted for), on which vCPU, and what the kernel did --
 * with several CPUs, the IPIs and TLB shootdowns too.
 * At the end: min/p50/p90/p99/max/mean per (event, arg) in ticks and ns
 * (KVM_GET_TSC_KHZ), a table, JSON, SVG plots, and the side-by-side comparison
 * with another system's figures (tools/linux-peer).  Samples are collected
 * even without --bench.
 */
struct bench_opts {
	bool enabled;          /* --bench: report at the end of the run */
	const char *json_path; /* --bench-json FILE, or NULL */
	const char *svg_dir;   /* --bench-svg DIR (created), or NULL */
	const char *peer_path; /* --bench-peer FILE: linux-peer output to compare with, or NULL */
};

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
	unsigned begin_cpu, end_cpu;   /* vCPUs that made the phase-0 and phase-1 hypercalls */
	int64_t kd[KS_COUNT];          /* KVM stat deltas phase 0 -> phase 1, summed over the vCPUs */
	int64_t exits_cpu[COWVMM_MAX_CPUS]; /* exits inside, per vCPU (end_cpu's closing exit taken off) */
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
	struct outfiles *files;           /* where JSON and plots go (NULL: straight to disk) */
	uint64_t tsc_khz;                 /* 0 if unknown */
	unsigned ncpus;                   /* the VM's vCPUs: every one's statistics are read */
	bool have_stats;                  /* the vCPUs' statistics fds are open */
	char stats_why[128];              /* why there are no KVM statistics */
	struct bench_kstat_info ks[KS_COUNT];
	/* HC_BENCH may come from any vCPU thread (it does not stop the world:
	 * stopping the others would put exits of theirs into the loop) */
	pthread_mutex_t lock;
	bool have_lock;
	/* The open loop, if any. */
	bool open;
	uint32_t open_event, open_arg;
	unsigned open_cpu;
	uint64_t k0[COWVMM_MAX_CPUS][KS_COUNT];
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
	struct bench_peer *peer;          /* read at setup (bench_load_peer()) */
	size_t npeer;
};

/* Name of a COWVMM_EV_* ("cow_write"...), or "?" */
const char *bench_event_name(uint32_t ev);
/* Event whose name is `s`, or COWVMM_EV_COUNT. */
uint32_t bench_event_by_name(const char *s);
/* Ticks -> ns with the vCPU's TSC rate (negative if unknown). */
double bench_ns(const struct bench_state *b, uint64_t ticks);
/* The group (event, arg), or NULL. */
const struct bench_group *bench_group_find(const struct bench_state *b, uint32_t event, uint32_t arg);
/* Loops labelled (event, arg), summed: their count and their guest counter
 * deltas (IPIs, shootdowns...) and VM exits inside (total and per vCPU).
 * 0 if there is no such loop. */
struct bench_loopsum {
	unsigned loops;
	bool have_g;                       /* every one of them had guest counters */
	struct cowvmm_guest_stats gd;
	int64_t exits;                     /* inside, all vCPUs */
	int64_t exits_cpu[COWVMM_MAX_CPUS];
};
unsigned bench_loop_sum(const struct bench_state *b, uint32_t event, uint32_t arg, struct bench_loopsum *s);
/* Peer figures for (event name, n), or NULL. */
const struct bench_peer *bench_peer_find(const struct bench_state *b, const char *event, uint32_t n);

/* bench_report.c */
/* Read --bench-peer FILE (at setup: no file is opened once the seccomp
 * filter is on): 0, or -1 after a message. */
int bench_load_peer(struct bench_state *b, const char *path);
void bench_print_table(const struct bench_state *b, FILE *out);
int bench_write_json(const struct bench_state *b, const char *path);
/* bench_svg.c: every plot into dir; returns 0 or -1 after a message. */
int bench_write_svg(const struct bench_state *b, const char *dir);
/* With --bench: print the report to `out` and write JSON and SVG.  0;
 * VMM_EXIT_GUEST_FAIL if no samples arrived; VMM_EXIT_USAGE if an output
 * file could not be written. */
int bench_report(struct bench_state *b, FILE *out);
/* Free what the report allocated. */
void bench_free(struct bench_state *b);

#endif
