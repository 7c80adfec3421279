/* vmm/audit_int.h — the auditor's private state, shared by audit.c (global audit) and audit_cp.c (checkpoints). */
#ifndef COWVMM_AUDIT_INT_H
#define COWVMM_AUDIT_INT_H

#include "vmm.h"

#define NO_FRAME UINT64_MAX

/* One 4 KiB mapping seen by a walk (collected for the fork comparison). */
struct leafrec {
	uint64_t va, pte, frame;
};

struct leafvec {
	struct leafrec *v;
	size_t n, cap;
};

/* Another process's mapping of a frame, remembered at CP_COW_BEFORE. */
struct sharer {
	int32_t pid;
	uint64_t va, pte;
};
#define MAX_SHARERS 64

/* The page at CP_COW_BEFORE, to judge the resolution at CP_COW_AFTER. */
struct cow_snapshot {
	bool valid;
	int32_t pid;
	uint64_t va;          /* page-aligned */
	uint64_t pte, frame;
	uint32_t refcount, pins;
	uint8_t data[COWVMM_PAGE_SIZE];
	struct sharer sharer[MAX_SHARERS];
	size_t nsharers;
	bool sharers_truncated;
};

struct audit {
	const struct gmem *m;
	bool have_desc;
	struct cowvmm_hc_describe d;
	uint32_t *mapcount;      /* [nframes] user PTEs mapping each frame (this audit) */
	int32_t *table_owner;    /* [nframes] pid whose user tables use the frame, 0 none */
	uint64_t alloc_frames;   /* size of the two arrays */
	struct audit_proc *procs;
	size_t nprocs, cap_procs;
	struct audit_violation v[AUDIT_MAX_VIOLATIONS];
	size_t nv;
	uint64_t nv_total;
	uint64_t seq, last_ns, frames_free;
	uint32_t cpkind;         /* checkpoint of the audit in progress */
	/* The guest arrays for this audit (checked against RAM at its start). */
	const uint32_t *rc, *pins;
	/* The walk in progress. */
	struct audit_proc *cur;
	struct leafvec *collect;  /* leaves of the current process are appended here */
	struct leafvec fork_a, fork_b;
	int32_t collect_pid[2];   /* whose leaves go to fork_a / fork_b (0 = nobody) */
	bool collect_failed;      /* out of memory while collecting */
	uint64_t watch_frame;     /* record sharers of this frame (CP_COW_BEFORE) */
	int32_t watch_pid;        /* ... except this process's own mapping */
	uint64_t watch_va;
	struct cow_snapshot before;
};

/* Record a violation of the audit in progress (printf-style detail). */
void av(struct audit *a, enum audit_kind k, int32_t pid, int32_t pid2, uint64_t va,
	uint64_t pte, uint64_t pte2, uint64_t frame, uint64_t expected, uint64_t found,
	const char *fmt, ...) __attribute__((format(printf, 11, 12)));

struct audit_proc *audit_find_proc(struct audit *a, int32_t pid);
bool leafvec_push(struct leafvec *lv, uint64_t va, uint64_t pte, uint64_t frame);

/* audit_cp.c: the checks of each checkpoint kind; before/after the global walk. */
void cp_prepare(struct audit *a, const struct cowvmm_hc_inspect *cp);
void cp_check(struct audit *a, const struct cowvmm_hc_inspect *cp);

#endif
