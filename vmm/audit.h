/* vmm/audit.h — COW invariants proved from outside: the auditor's public interface (its state is private: audit_int.h). */
#ifndef COWVMM_AUDIT_H
#define COWVMM_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "books.h"
#include "cowvmm/abi.h"
#include "guest_mem.h"

/*
 * audit.c / audit_cp.c / audit_local.c / audit_dirty.c, on guest memory
 * described by the guest's HC_DESCRIBE descriptor.  Pure (no KVM): every read
 * goes through gmem_ptr(), so a corrupt guest yields violations, never a crash.
 * Rules (the guest kernel's, guest/kernel/mm.h): refcount[f] == user PTEs
 * mapping f in all address spaces + pins[f] (page tables, kernel stacks and the
 * zero frame are pinned; zero-frame PTEs count like any other); a free frame
 * has refcount 0.  A large leaf counts once for each 4 KiB frame it covers.
 * "Shared" means more than one PTE reference: refcount - pins > 1.
 */
enum audit_kind {
	AV_REFCOUNT,        /* refcount != PTE mappings + pins */
	AV_FREE_MAPPED,     /* a PTE maps a frame whose refcount is 0 */
	AV_SHARED_WRITABLE, /* a writable PTE maps a frame with more than one PTE reference */
	AV_COW_WRITABLE,    /* COW flag together with RW */
	AV_FREE_COUNT,      /* free count != frames with refcount 0 */
	AV_TABLE_SHARED,    /* a page-table page used by two processes */
	AV_TABLE_AS_DATA,   /* a page-table page mapped by a user PTE */
	AV_TABLE_FREE,      /* a page-table page with refcount 0 */
	AV_UNMANAGED,       /* a user PTE maps a frame outside the allocator's range */
	AV_PT_BROKEN,       /* walker fault: table outside RAM, loop, reserved bits */
	AV_ZERO,            /* zero frame written, mapped writable, or ZERO flag wrong */
	AV_FORK,            /* after fork: parent and child differ, or a PTE is writable */
	AV_COW,             /* after a COW fault: writer's PTE, copy, counts or sharers wrong */
	AV_PROC,            /* process table or checkpoint arguments inconsistent (threads: one
			     * group per page-table root, one root per group, a leader per group) */
	AV_TRANSLATE,       /* walker and KVM_TRANSLATE disagree */
	AV_DIRTY,           /* KVM's dirty log contradicts a COW fault's resolution */
	AV_REGION,          /* after fork: a page's PTE contradicts its region's permissions */
	AV_CPU_CR3,         /* a vCPU runs on page tables no live process (nor the kernel) owns */
	AV_COUNT
};

struct audit_violation {
	enum audit_kind kind;
	uint32_t checkpoint;   /* enum cowvmm_checkpoint of the audit */
	uint64_t seq;          /* audit number (1-based) */
	int32_t pid, pid2;     /* processes involved (0 = none / unknown) */
	uint64_t va;           /* virtual address involved (0 if none) */
	uint64_t pte, pte2;    /* PTEs involved (0 if none) */
	uint64_t frame;        /* frame number involved (UINT64_MAX if none) */
	uint64_t expected, found;
	char detail[192];      /* one sentence: what was expected, what was found */
};

/* What the last audit saw of one live process (per-process page summary).
 * Threads: entries on the same page-table root share one address space,
 * walked once; every one of them shows its figures, and as_pid names the
 * entry whose walk counted them (and whose pid the walk's violations carry). */
struct audit_proc {
	int32_t pid, ppid;
	int32_t tgid;       /* thread group (pid itself when the guest has no threads) */
	int32_t as_pid;     /* the walk of this address space was under this pid; 0: none */
	uint32_t state;
	uint64_t cr3;
	char name[17];
	uint64_t pages;     /* 4 KiB user pages mapped */
	uint64_t writable;  /* ... of which writable */
	uint64_t cow;       /* ... with the COW flag */
	uint64_t shared;    /* ... whose frame has more than one PTE reference */
	uint64_t zero;      /* ... mapping the zero frame */
	uint64_t huge;      /* large leaves (2 MiB / 1 GiB) */
	uint64_t tables;    /* page-table pages of the user half (PML4 included) */
};

#define AUDIT_MAX_VIOLATIONS 64 /* kept per audit; the count goes on */
/* One full audit looks at no more than max(AUDIT_PAGES_PER_FRAME x the
 * guest's frames, AUDIT_PAGES_MIN) 4 KiB mappings over all address spaces:
 * a correct kernel maps each frame a few times at most; hostile tables
 * (1 GiB leaves, tables aliased under many entries) would otherwise cost
 * minutes and gigabytes per checkpoint.  Past it the audit stops with one
 * page-table-broken violation and checks nothing it could not count. */
#define AUDIT_PAGES_PER_FRAME 4u
#define AUDIT_PAGES_MIN 65536u

struct audit;

/* A new auditor over guest RAM `m`; NULL on allocation failure. */
struct audit *audit_new(const struct gmem *m);
void audit_free(struct audit *a);

/* Adopt a descriptor (validated by describe_validate(); arrays are still
 * checked against RAM at each audit).  Returns 0, or -1 with err set. */
int audit_set_descriptor(struct audit *a, const struct cowvmm_hc_describe *d, char *err, size_t n);
const struct cowvmm_hc_describe *audit_descriptor(const struct audit *a); /* NULL before */

/* Audit now for checkpoint `cp`: the global audit plus the checks of its kind
 * (CP_FORK, CP_COW_BEFORE/AFTER, CP_EXIT).  Returns the number of violations
 * found (also kept: audit_violations()). */
unsigned audit_run(struct audit *a, const struct cowvmm_hc_inspect *cp);

/* Results of the last audit_run(). */
const struct audit_violation *audit_violations(const struct audit *a, size_t *n, uint64_t *total);
const struct audit_proc *audit_procs(const struct audit *a, size_t *n);
uint64_t audit_seq(const struct audit *a);          /* audits run so far */
uint64_t audit_last_ns(const struct audit *a);      /* wall time of the last audit */
uint64_t audit_frames_free(const struct audit *a);  /* free frames counted by the last audit */

/* Cheap COW checkpoints: CP_COW_BEFORE/AFTER are judged locally (writer's
 * PTE, old and new frame, their counts, the frame's other sharers found
 * through a reverse map kept since the last full audit) and the full global
 * audit runs at every other checkpoint, at every Nth COW checkpoint, and
 * whenever the local picture does not add up.  n = 1 (the default of
 * audit_new()) walks everything at every checkpoint. */
void audit_set_full_every(struct audit *a, unsigned n);
bool audit_last_full(const struct audit *a);   /* the last audit_run() was a full one */
void audit_counts(const struct audit *a, uint64_t *full, uint64_t *local, uint64_t *fallback);

/* Dirty logging between CP_COW_BEFORE and CP_COW_AFTER (audit_dirty.c, pure):
 * `dirty` is KVM's bitmap of the frames written since CP_COW_BEFORE (bit f of
 * 64-bit word f/64, nbits frames).  After a copy the new frame and the
 * writer's page-table page must be dirty and the old (shared) frame clean;
 * after a reuse the writer's page-table page must be dirty.  Call right after
 * audit_run() of the CP_COW_AFTER; violations are added to that audit.
 * Returns the number found. */
unsigned audit_dirty_check(struct audit *a, const struct cowvmm_hc_inspect *cp,
			   const uint64_t *dirty, uint64_t nbits);

/* The guest's books as this auditor reads them (its adopted descriptor):
 * frame counts, process entries (books.h).  Valid only after
 * audit_set_descriptor(). */
const struct books *audit_books(const struct audit *a);
/* The guest RAM the auditor reads. */
const struct gmem *audit_mem(const struct audit *a);
/* The COW fault being judged: the page recorded at the last CP_COW_BEFORE
 * (false if none), and its other sharers (first one's pid, 0 if none). */
bool audit_cow_before(const struct audit *a, int32_t *pid, uint64_t *va, uint64_t *frame, int32_t *sharer);

/* Record a violation found outside audit_run() (e.g. the KVM_TRANSLATE
 * cross-check) into the last audit's list. */
void audit_add(struct audit *a, const struct audit_violation *v);

const char *audit_kind_name(enum audit_kind k);
const char *audit_checkpoint_name(uint32_t cp);
/* One line "kind: pid P va V: detail (PTE ..., frame ...)" into buf. */
const char *audit_format(const struct audit_violation *v, char *buf, size_t n);

#endif /* COWVMM_AUDIT_H */
