/* cowtest.h — shared model, expectation helpers and process plumbing of the in-guest fork/COW suite. */
#ifndef COWTEST_H
#define COWTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "ulib.h"

#define PAGE 4096ul
#define ANY ((uint64_t)-1)  /* "don't care" for a model field */

/*
 * Every case reads as: setup, operation, expected model.  The model of one
 * page is what SYS_vmquery must report for it; expect_page() compares the
 * whole model in one place and explains each mismatch.
 */
struct page_model {
	uint64_t frame;    /* frame number, or ANY */
	uint64_t ref;      /* refcount, or ANY */
	int present;       /* 1/0, or -1 = don't care (same for the flags below) */
	int writable;      /* PTE RW */
	int cow;           /* software COW flag */
	int zero;          /* maps the shared zero frame */
	int region_w;      /* the region allows writes */
};

/* The usual shapes of a present page. */
#define M_PRIVATE(fr)   ((struct page_model){ (fr), 1, 1, 1, 0, 0, 1 }) /* own, writable */
#define M_COW(fr, r)    ((struct page_model){ (fr), (r), 1, 0, 1, 0, 1 }) /* shared COW */
#define M_RO(fr, r)     ((struct page_model){ (fr), (r), 1, 0, 0, 0, 0 }) /* text/rodata */
#define M_ZERO(fr)      ((struct page_model){ (fr), ANY, 1, 0, -1, 1, 1 }) /* zero frame */

/* Per-process test context: a child gets a copy through fork and reports its
 * own failures through its exit status (see child_exit()). */
struct ctx {
	const char *name;  /* case name, prefixed to diagnostics */
	const char *who;   /* "parent", "child", "L3", ... */
	int failures;
	uint64_t seed;     /* for anything random (printed, settable: seed=N) */
	int nr;            /* catalogue number, for checkpoint labels */
	char first[160];   /* first failure, summarised on the TAP line */
};

/* Counter snapshot around an operation (SYS_meminfo). */
struct counts {
	uint64_t free, copies, reuses, zero_fills, oom, segv, forks, fork_fail, nprocs;
	/* the taker's own copies, reuses, zero fills (expect_delta compares
	 * these when both snapshots are one thread's), and who took it */
	uint64_t own_copies, own_reuses, own_zero_fills;
	int tid;
};

/* Expected change of the counters across an operation; ANY = don't care. */
struct counts_delta {
	int64_t free, copies, reuses, zero_fills, oom, segv;
};
#define D_ANY ((int64_t)0x7fffffffffffffffll)
/* Fields left out of a delta must not change at all. */
#define D_NONE     ((struct counts_delta){ 0 })
#define D_COPY     ((struct counts_delta){ .free = -1, .copies = 1 })  /* COW break by copy */
#define D_REUSE    ((struct counts_delta){ .reuses = 1 })              /* COW break in place */
#define D_ZEROFILL ((struct counts_delta){ .free = -1, .zero_fills = 1 })

/* ---- expect.c: comparisons, each printing "# case who: what: ..." on mismatch. */
void diag(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool expect_page(struct ctx *c, const volatile void *va, struct page_model m, const char *what);
bool expect_true(struct ctx *c, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool expect_eq(struct ctx *c, uint64_t got, uint64_t want, const char *what);
bool expect_fill(struct ctx *c, const volatile void *va, uint64_t len, uint8_t byte, const char *what);
bool expect_status(struct ctx *c, int status, int want, const char *what);
bool expect_checkpoint(struct ctx *c, uint32_t label);
void snap(struct counts *s);
bool expect_delta(struct ctx *c, const struct counts *a, const struct counts *b,
		  struct counts_delta d, const char *what);
uint64_t frame_of(const volatile void *va);
uint32_t ref_of(const volatile void *va);
const char *status_str(int status, char *buf, int n);

/* Wait status values for expect_status(). */
#define ST_EXIT(code) W_EXITCODE(code)
#define ST_SIG(sig) (sig)

/* ---- proc.c: synchronisation and process plumbing. */
/* A gate is a pipe: post() writes one byte, wait() reads one. */
struct gate { int r, w; };
bool gate_open(struct ctx *c, struct gate *g);
void gate_close(struct gate *g);
void gate_post(struct gate *g, uint8_t v);
int gate_wait(struct gate *g); /* the byte, or -1 at EOF/error */
/* Make every stack page the next calls will use private (COW broken) now, so
 * that later counter windows see only the operation under test. */
void warm_stack(void);
/* Fork with a diagnostic on failure: returns the pid, 0 in the child, <0 on error. */
int xfork(struct ctx *c);
/* In a child: exit 0 if no expectation failed, else 1. */
_Noreturn void child_exit(struct ctx *c);
/* Reap `pid` and compare its wait status with `want`. */
bool reap(struct ctx *c, int pid, int want, const char *what);
/* Anonymous writable pages filled with `byte`, or NULL (diagnosed). */
uint8_t *map_pages(struct ctx *c, uint64_t npages, uint8_t byte);
/* Write one byte at p with counter snapshots right around that write alone
 * (call warm_stack() first so the snapshots themselves fault nothing). */
void measured_poke(volatile void *p, uint8_t v, struct counts *before, struct counts *after);
/* Touch one byte (write) / read one byte through a volatile pointer. */
static inline void poke(volatile void *p, uint8_t v) { *(volatile uint8_t *)p = v; }
static inline uint8_t peek(const volatile void *p) { return *(const volatile uint8_t *)p; }

/* ---- cases: each returns 0 pass, 1 fail, 77 skip (printing "# SKIP reason"). */
#define CASE_PASS 0
#define CASE_FAIL 1
#define CASE_SKIP 77
typedef int (*case_fn)(struct ctx *c);
int case_result(struct ctx *c);
int skip(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int t_share(struct ctx *c);
int t_isolate(struct ctx *c);
int t_tlb(struct ctx *c);
int t_reuse(struct ctx *c);
int t_three(struct ctx *c);
int t_chain(struct ctx *c);
int t_text(struct ctx *c);
int t_zero(struct ctx *c);
int t_kwrite(struct ctx *c);
int t_kpin(struct ctx *c);
int t_forkfail(struct ctx *c);
int t_oom(struct ctx *c);
int t_ptfail(struct ctx *c);
int t_cycles(struct ctx *c);
int t_big(struct ctx *c);
int t_pipe_eof(struct ctx *c);
int t_sigaction(struct ctx *c);
int t_orphan(struct ctx *c);
int t_wait(struct ctx *c);
int t_pinexit(struct ctx *c);
int t_forkbrk(struct ctx *c);
int t_sbrkshrink(struct ctx *c);
int t_mprotcow(struct ctx *c);
int t_tlbprot(struct ctx *c);
int t_orphanwake(struct ctx *c);
int t_threads(struct ctx *c);
int t_smptlb(struct ctx *c);
int t_smpflush(struct ctx *c);
int t_smpwrite2(struct ctx *c);
int t_smpforkwr(struct ctx *c);
int t_preempt(struct ctx *c);

/* Checkpoint labels: case number * 100 + step. */
#define CP(casenr, step) ((uint32_t)((casenr) * 100 + (step)))

#endif
