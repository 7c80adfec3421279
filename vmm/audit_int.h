/* vmm/audit_int.h — the auditor's private state, shared by audit.c (global audit), audit_cp.c (checkpoints), audit_local.c and audit_dirty.c only. */
#ifndef COWVMM_AUDIT_INT_H
#define COWVMM_AUDIT_INT_H

#include "audit.h"
#include "ptwalk.h"

#define NO_FRAME UINT64_MAX
#define NO_OWNER UINT32_MAX

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

/* A process's regions as its process-table entry describes them. */
#define MAX_REGIONS 64
struct regions {
	int n;                 /* -1: not described */
	struct cowvmm_region r[MAX_REGIONS];
};

/* Reverse map entry: one user mapping of a frame seen by the last full walk
 * (or moved there by a COW checkpoint since).  Entries can go stale (pages
 * unmapped, frames freed and reused): every use re-translates (pid, va). */
struct rmap_ent {
	int32_t pid;    /* the address space's owner (audit_as_pid()) */
	uint32_t next;  /* index + 1 of the next entry of the same frame, 0 = end */
	uint64_t va;
};

struct audit {
	const struct gmem *m;
	struct books bk;         /* the guest's books (descriptor adopted) */
	uint32_t *mapcount;      /* [nframes] user PTEs mapping each frame (this audit) */
	int32_t *table_owner;    /* [nframes] pid whose user tables use the frame, 0 none */
	uint64_t alloc_frames;   /* size of the two arrays */
	struct audit_proc *procs;
	size_t nprocs, cap_procs;
	/* Address spaces (read_procs): as_owner[i] is the index in procs of the
	 * entry whose walk stands for procs[i]'s address space (i itself for
	 * that one), NO_OWNER without one; keys is read_procs' scratch. */
	uint32_t *as_owner;
	struct books_as_key *keys;
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
	/* Cheap COW checkpoints (audit_cp.c, local_*): the reverse map. */
	uint32_t *rmap_head;      /* [nframes] index + 1 of the frame's first entry */
	struct rmap_ent *rmap;
	size_t rmap_n, rmap_cap;
	bool rmap_valid;          /* built by a full walk, kept up to date since */
	unsigned full_every;      /* full audit at every Nth COW checkpoint (1 = all) */
	uint64_t cow_since_full;  /* COW checkpoints since the last full audit */
	bool last_full;           /* the last audit_run() walked everything */
	uint64_t nfull, nlocal, nfallback;
	struct regions fork_regions[2]; /* parent's and child's at a fork checkpoint (big: not on the stack) */
	/* Work bound of one full audit: 4 KiB pages looked at over every address
	 * space (AUDIT_PAGE_BUDGET). */
	uint64_t pages_seen, pages_budget;
	bool budget_hit;
};

/* Record a violation of the audit in progress (printf-style detail). */
void av(struct audit *a, enum audit_kind k, int32_t pid, int32_t pid2, uint64_t va,
	uint64_t pte, uint64_t pte2, uint64_t frame, uint64_t expected, uint64_t found,
	const char *fmt, ...) __attribute__((format(printf, 11, 12)));

struct audit_proc *audit_find_proc(struct audit *a, int32_t pid);
/* The pid under which pid's address space is walked (and named in the
 * reverse map): another thread's for all but one thread of a group; pid
 * itself when it has no entry or no address space. */
int32_t audit_as_pid(struct audit *a, int32_t pid);
/* Process-table entry i (0..nproc-1) as an audit_proc (counters zero):
 * false for a free slot or a bad entry. */
bool audit_proc_entry(const struct audit *a, uint32_t i, struct audit_proc *out);
bool leafvec_push(struct leafvec *lv, uint64_t va, uint64_t pte, uint64_t frame);

/* audit_cp.c: the checks of each checkpoint kind; before/after the global walk. */
void cp_prepare(struct audit *a, const struct cowvmm_hc_inspect *cp);
void cp_check(struct audit *a, const struct cowvmm_hc_inspect *cp);

/* audit_local.c: a COW checkpoint judged from the writer's page, its frames
 * and the frame's other sharers (found through the reverse map), no global
 * walk.  Returns false when the local picture does not add up (the counts
 * disagree with the sharers found, no usable reverse map, ...): the caller
 * then runs the full audit, which decides. */
bool local_cow(struct audit *a, const struct cowvmm_hc_inspect *cp);
/* Reverse map upkeep: a full walk's leaf, and the reset before the walk. */
void rmap_reset(struct audit *a);
void rmap_add(struct audit *a, uint64_t frame, int32_t pid, uint64_t va);

#endif
