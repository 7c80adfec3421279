/* vmm/vmm.h — the VMM's internal interfaces: every function's contract, grouped by module. */
#ifndef COWVMM_VMM_H
#define COWVMM_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cowvmm/abi.h"

/* ===========================================================================
 * Exit statuses of `vmm` (documented in --help and README.md).
 * ========================================================================= */
enum vmm_exit {
	VMM_EXIT_OK = 0,          /* guest exited with status 0 */
	VMM_EXIT_GUEST_FAIL = 1,  /* guest reported failure: nonzero exit, assertion, audit violation */
	VMM_EXIT_USAGE = 2,       /* bad command line or invalid guest image */
	VMM_EXIT_NO_KVM = 3,      /* the host cannot run KVM (no /dev/kvm, missing capability) */
	VMM_EXIT_CRASH = 4,       /* guest crashed: exception, panic, triple fault, bad hypercall */
	VMM_EXIT_TIMEOUT = 5,     /* watchdog fired */
};

/* ===========================================================================
 * guest_mem.c — guest physical memory.  Every guest-physical access goes
 * through gmem_ptr(): nothing else adds a guest address to the host base.
 * ========================================================================= */
struct gmem {
	uint8_t *base;   /* host mapping of guest physical address 0 */
	uint64_t size;   /* bytes of guest RAM */
};

/* Map `size` bytes of anonymous memory for guest RAM and pre-fault every page
 * (so no host first-touch fault lands inside guest timings).  Returns 0, or
 * -errno with nothing mapped. */
int gmem_init(struct gmem *m, uint64_t size);

/* Unmap guest RAM; safe on a zeroed or already-freed gmem. */
void gmem_free(struct gmem *m);

/* Host pointer to guest-physical [gpa, gpa+len), or NULL if any byte of it lies
 * outside guest RAM or the range wraps.  len == 0 is valid for gpa <= size. */
void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len);

/* Copy a NUL-terminated guest string at `gpa` into out[outsz]: at most
 * outsz-1 bytes, always terminated.  Returns its length, or -1 if the string
 * starts outside RAM or is not terminated within RAM and outsz-1 bytes. */
int gmem_read_str(const struct gmem *m, uint64_t gpa, char *out, size_t outsz);

/* ===========================================================================
 * elf_load.c — the guest kernel image.  An image is validated completely
 * before one byte of it is copied into guest RAM; it is hostile input.
 * ========================================================================= */
struct ksym {
	uint64_t addr;   /* st_value (kernel virtual address) */
	uint64_t size;   /* st_size, 0 if unknown */
	char *name;
};

struct kimage {
	uint64_t entry;          /* e_entry (kernel virtual) */
	uint64_t kernel_end_gpa; /* first GPA past the highest PT_LOAD, page aligned */
	struct ksym *syms;       /* STT_FUNC/STT_OBJECT symbols sorted by addr */
	size_t nsyms;
};

/* Check that img[0..size) is a kernel image this VMM can boot into `ram_size`
 * bytes of RAM (every rule of the ABI: ELF64 little-endian x86-64 ET_EXEC,
 * PT_LOADs inside the file and inside RAM at or above COWVMM_KERNEL_MIN_GPA,
 * p_vaddr == COWVMM_KERNEL_BASE + p_paddr, no overlap, sane alignment, entry
 * in an executable PT_LOAD).  Touches nothing but err.  Returns 0, or -1 with
 * a one-line reason in err[errsz].  `img` is not modified. */
int elf_validate(const void *img, size_t size, uint64_t ram_size, char *err, size_t errsz);

/* elf_validate(), then copy every PT_LOAD into guest RAM (zeroing the
 * p_memsz tail) and fill *k (entry, kernel_end_gpa, symbols).  On failure
 * returns -1 with err set and RAM untouched. */
int elf_load_image(const void *img, size_t size, struct gmem *m, struct kimage *k,
		   char *err, size_t errsz);

/* Read the file at `path` and elf_load_image() it. */
int elf_load_file(const char *path, struct gmem *m, struct kimage *k, char *err, size_t errsz);

/* Free the symbol table; safe on a zeroed kimage. */
void kimage_free(struct kimage *k);

/* "name+0xoff" for a kernel virtual address into buf[n] (or "0x..." when no
 * symbol covers it; k may be NULL).  Returns buf. */
const char *sym_lookup(const struct kimage *k, uint64_t addr, char *buf, size_t n);

/* ===========================================================================
 * kvm.c — /dev/kvm, the VM and its single vCPU.  kvm_try() returns the ioctl
 * result or -errno; KVM_CHECK() does the same ioctl but, on failure, prints
 * the ioctl name and the caller's description of the values and exits with
 * VMM_EXIT_NO_KVM (the host's KVM refused something a correct VMM needs).
 * ========================================================================= */
struct kvm_run;

struct vm_caps {
	bool immediate_exit; /* KVM_CAP_IMMEDIATE_EXIT: watchdog race-free */
	bool tsc_khz;        /* KVM_CAP_GET_TSC_KHZ */
	bool vcpu_events;    /* KVM_CAP_VCPU_EVENTS */
	bool sync_regs;      /* KVM_CAP_SYNC_REGS (informational) */
};

struct vm {
	int kvm_fd, vm_fd, vcpu_fd;
	struct kvm_run *run;     /* mmap of the vCPU's kvm_run */
	size_t run_size;
	struct vm_caps cap;
	struct gmem mem;         /* guest RAM, memslot 0 at GPA 0 */
	struct kimage kernel;    /* symbols for reports; empty for --probe */
	bool quiet;              /* -q: no informational VMM messages */
	bool have_desc;          /* HC_DESCRIBE received and valid */
	struct cowvmm_hc_describe desc; /* validated copy of the guest's descriptor */
	unsigned timeout_s;      /* watchdog, 0 = none */
};

int kvm_try(int fd, unsigned long req, void *arg);
int kvm_check_(int fd, unsigned long req, void *arg, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define KVM_CHECK(fd, req, arg, ...) kvm_check_((fd), (req), (arg), #req, __VA_ARGS__)

/* Open /dev/kvm, check the API version and every capability relied on, create
 * the VM, register vm->mem as memslot 0, create vCPU 0 and map its kvm_run.
 * Returns 0, or VMM_EXIT_NO_KVM after printing one line saying why. */
int kvm_setup(struct vm *vm);

/* Close everything kvm_setup() opened; safe after a partial setup. */
void kvm_teardown(struct vm *vm);

/* Guest virtual -> guest physical through the vCPU's current page tables.
 * Returns 0 and *gpa, or -1 if unmapped or the ioctl failed. */
int kvm_translate(struct vm *vm, uint64_t gva, uint64_t *gpa);

/* ===========================================================================
 * boot.c — 64-bit long mode from the first instruction: GDT, boot page tables,
 * segment/control registers, CPUID, boot info (see abi.h "Boot handshake").
 * ========================================================================= */
/* Build the GDT and page tables in guest RAM and load the vCPU's sregs, regs
 * (RIP = entry, RDI/RSI as in the ABI), FPU state and CPUID.  RAM size must be
 * a multiple of 2 MiB.  Dies through KVM_CHECK if KVM refuses the state. */
void boot_setup_cpu(struct vm *vm, uint64_t entry);

/* Fill struct cowvmm_boot_info at COWVMM_BOOT_INFO_GPA. */
void boot_write_info(struct vm *vm, uint64_t seed, uint32_t flags, const char *cmdline);

/* ===========================================================================
 * run.c / hypercall.c / dump.c / watchdog.c — running the guest.
 * Handlers return VMM_CONTINUE to resume the vCPU, or an enum vmm_exit.
 * ========================================================================= */
#define VMM_CONTINUE (-1)

/* Run the vCPU until the guest ends; returns the enum vmm_exit status after
 * printing whatever explains it. */
int vm_run(struct vm *vm);

/* Hypercall `nr` with argument GPA `gpa` (from the guest's OUT to the port). */
int hypercall_dispatch(struct vm *vm, unsigned nr, uint64_t gpa);

/* Print "vmm: guest error: <msg>" and the register dump; returns VMM_EXIT_CRASH. */
int vm_guest_error(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print an informational line "vmm: ..." unless -q. */
void vm_note(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Handlers of INSPECT / BENCH / INJECT.  hypercall.c defines weak versions that
 * report "unsupported hypercall"; the modules implementing them (inspect.c,
 * bench.c, inject.c) provide the strong definitions.  `arg` points into guest
 * RAM (already bounds-checked for the whole struct) so IN fields can be written
 * back; OUT fields are hostile. */
int hc_inspect(struct vm *vm, struct cowvmm_hc_inspect *arg);
int hc_bench(struct vm *vm, struct cowvmm_hc_bench *arg);
int hc_inject(struct vm *vm, struct cowvmm_hc_inject_point *arg);

/* Validate a guest descriptor against RAM of `ram_size` bytes: 0, or -1 with a
 * one-line reason in err.  (describe.c; pure, unit-testable.) */
int describe_validate(const struct cowvmm_hc_describe *d, uint64_t ram_size, char *err, size_t errsz);

/* Registers (KVM_GET_REGS/SREGS), RIP symbolized and the code bytes at RIP, to
 * stderr, each line prefixed "vmm: ". */
void dump_vcpu(struct vm *vm);

/* Print code bytes at guest virtual `rip` (translated with KVM_TRANSLATE). */
void dump_code(struct vm *vm, uint64_t rip);

/* Arm a timer that breaks KVM_RUN after `secs` (0 = never).  watchdog_fired()
 * tells the run loop the EINTR it saw was the watchdog. */
void watchdog_start(struct vm *vm, unsigned secs);
bool watchdog_fired(void);
void watchdog_stop(void);

/* probe.c — `vmm --probe`: a built-in few-byte long-mode guest stores through
 * the direct map, irets to ring 3, comes back with SYSCALL, does one
 * hypercall-port OUT and HLT.  Returns VMM_EXIT_OK or VMM_EXIT_NO_KVM (after
 * one line saying why). */
int probe_run(void);

/* ===========================================================================
 * ptwalk.c — read-only walker of guest x86-64 4-level page tables (no KVM).
 * Every table is read through gmem_ptr(); a table outside RAM, a reserved
 * bit pattern or a table reached twice is reported as a fault and never
 * followed, so a hostile or corrupt table costs bounded work and never
 * crashes the VMM.  Effective permissions: RW and US anded over every level,
 * NX ored (as the CPU does with CR0.WP=1, EFER.NXE=1).
 * ========================================================================= */
#define PTW_EFF_W  1u  /* writable at every level */
#define PTW_EFF_U  2u  /* user-accessible at every level */
#define PTW_EFF_NX 4u  /* no-execute at some level */

#define PTW_USER_LO 0x0000000000000000ull /* user half: PML4 slots 0..255 */
#define PTW_USER_HI 0x00007fffffffffffull

struct ptw_leaf {
	uint64_t va;       /* canonical virtual address of the page */
	uint64_t pa;       /* guest-physical base of the page (may lie outside RAM) */
	uint64_t size;     /* 4 KiB, 2 MiB or 1 GiB */
	int level;         /* 1 = PTE, 2 = PDE with PS, 3 = PDPTE with PS */
	uint32_t eff;      /* PTW_EFF_* */
	uint64_t pte;      /* the raw leaf entry */
	uint64_t pte_gpa;  /* where the leaf entry lives */
	bool cow;          /* COWVMM_PTE_COW in the leaf */
	bool zero;         /* COWVMM_PTE_ZERO in the leaf */
};

enum ptw_error {
	PTW_E_NONE = 0,
	PTW_E_NOT_PRESENT,      /* translate only: no mapping */
	PTW_E_NONCANONICAL,     /* the address is not canonical (bits 63:47 differ) */
	PTW_E_OUTSIDE_RAM,      /* a table (or CR3 root) lies outside guest RAM */
	PTW_E_RESERVED,         /* PS in a PML4E, or a large-page address misaligned */
	PTW_E_REVISITED,        /* a table reached twice in one walk (loop or alias) */
	PTW_E_BUDGET,           /* PTW_F_SHARED_OK walk exceeded its work bound */
	PTW_E_COUNT
};

struct ptw_fault {
	enum ptw_error err;
	uint64_t va;         /* first virtual address the broken entry covers */
	int level;           /* level of the table holding the entry (4 = PML4) */
	uint64_t entry;      /* the raw entry (0 for a bad CR3) */
	uint64_t entry_gpa;  /* where the entry lives (0 for a bad CR3) */
	uint64_t target_gpa; /* the table it points to */
};

/* Callbacks; each may be NULL.  A nonzero return stops the walk and becomes
 * ptw_walk()'s result.  table() sees every table page the walk enters (the
 * root first, level 4 .. 1) before its entries; leaf() sees leaves in
 * increasing VA order; fault() sees every broken entry (the walk goes on). */
struct ptw_ops {
	int (*table)(void *ctx, uint64_t table_gpa, int level, uint64_t va);
	int (*leaf)(void *ctx, const struct ptw_leaf *l);
	int (*fault)(void *ctx, const struct ptw_fault *f);
};

/* Tables may legitimately be reached twice (kernel-half aliases): follow
 * them again, bounded by PTW_BUDGET table visits, instead of reporting. */
#define PTW_F_SHARED_OK 1u
#define PTW_BUDGET 65536u

/* Walk the tables rooted at cr3 (bits 51:12 used) over canonical [va_lo,
 * va_hi].  Returns 0, a callback's nonzero value, -EINVAL for a bad range,
 * -ENOMEM. */
int ptw_walk(const struct gmem *m, uint64_t cr3, uint64_t va_lo, uint64_t va_hi,
	     unsigned flags, const struct ptw_ops *ops, void *ctx);

/* Translate one address.  On PTW_E_NONE fills *leaf and *gpa (exact byte
 * address); otherwise fills *f (may be NULL) and returns the error. */
enum ptw_error ptw_translate(const struct gmem *m, uint64_t cr3, uint64_t va,
			     struct ptw_leaf *leaf, uint64_t *gpa, struct ptw_fault *f);

/* Merged view (like QEMU's `info mem`): maximal runs of contiguous VA with
 * the same effective flags and COW flag. */
struct ptw_range {
	uint64_t va, end;   /* [va, end) */
	uint32_t eff;
	bool cow;
	uint64_t pages;     /* 4 KiB pages covered */
};
int ptw_ranges(const struct gmem *m, uint64_t cr3, uint64_t va_lo, uint64_t va_hi,
	       unsigned flags, int (*range)(void *ctx, const struct ptw_range *r),
	       int (*fault)(void *ctx, const struct ptw_fault *f), void *ctx);

bool ptw_canonical(uint64_t va);
const char *ptw_error_name(enum ptw_error e);
/* "urw-" style flags: u/s, r, w/-, x/- plus 'c' for COW. buf >= 8 bytes. */
const char *ptw_flags_str(uint32_t eff, bool cow, char *buf);

/* ===========================================================================
 * inject.c / inject_apply.c — fault injection driven by the VMM (grammar and
 * plan types in inject.h).  A run has one plan, `inject_run`.
 *   - alloc rules go into a struct cowvmm_inject_plan page at a GPA below the
 *     kernel (boot_info.inject_gpa); the guest's should_fail() obeys it and
 *     fills the OUT counters, printed at the end by inject_report();
 *   - exc:/pte: actions fire at the N-th HC_INJECT point of a checkpoint kind
 *     (hc_inject) or after the N-th VM exit (inject_on_exit).  A PTE edit sets
 *     `applied` so the guest flushes its TLB before going on.  A #PF is
 *     delivered at CPL 3 when the process returns to user mode (single-step
 *     from the inject point, KVM_EXIT_DEBUG -> inject_on_debug); an NMI is
 *     delivered at once.
 * ========================================================================= */
#include "inject.h"
extern struct inject_cfg inject_run;

/* Write the plan page (when some --inject was given) and point the boot info
 * at it; call after boot_write_info().  Returns 0 or an enum vmm_exit. */
int inject_install(struct vm *vm, uint64_t seed);

/* Count one VM exit; fires exits=N actions.  Call after every KVM_RUN. */
void inject_on_exit(struct vm *vm);

/* KVM_EXIT_DEBUG handler: single-steps an armed #PF out to user mode. */
int inject_on_debug(struct vm *vm);

/* Print "vmm: inject: ..." lines: per-site calls/injected, each action's
 * outcome, and the guest's counters.  No-op without --inject. */
void inject_report(struct vm *vm);

/* ===========================================================================
 * bench.c, bench_report.c, bench_svg.c — timing runs (HC_BENCH, `--bench`).
 * The guest brackets each timed loop with HC_BENCH phase 0 / phase 1 and hands
 * all its TSC samples over once at the end (phase 2).  At phase 0 and 1 the VMM
 * reads the vCPU's binary statistics (KVM_GET_STATS_FD, counters found by name)
 * and the guest's counters, so each loop shows how many VM exits happened
 * inside it (its closing phase-1 exit accounted for) and what the kernel did.
 * At the end: min/p50/p90/p99/max/mean per (event, arg) in ticks and ns
 * (KVM_GET_TSC_KHZ), a table, JSON, SVG plots, and the side-by-side comparison
 * with another system's figures (tools/linux-peer).  hc_bench() (declared
 * above) is defined in bench.c; samples are collected even without --bench.
 * ========================================================================= */
#include <stdio.h> /* FILE, for bench_finish() */

struct bench_opts {
	bool enabled;          /* --bench: report at the end of the run */
	const char *json_path; /* --bench-json FILE, or NULL */
	const char *svg_dir;   /* --bench-svg DIR (created), or NULL */
	const char *peer_path; /* --bench-peer FILE: linux-peer output to compare with, or NULL */
};

/* After kvm_setup(), before vm_run(): keep the options, read the TSC rate, open
 * the vCPU's statistics.  When they cannot be opened and --bench is on, says
 * so on stderr (the report then says exits were NOT MEASURED). */
void bench_setup(struct vm *vm, const struct bench_opts *o);

/* After vm_run(): with --bench, print the report to `out` and write JSON and
 * SVG.  Returns 0; VMM_EXIT_GUEST_FAIL if no samples arrived; VMM_EXIT_USAGE if
 * an output file could not be written or the peer file read. */
int bench_finish(struct vm *vm, FILE *out);

/* ===========================================================================
 * audit.c / audit_cp.c — COW invariants proved from outside, on guest memory
 * described by the guest's HC_DESCRIBE descriptor.  Pure (no KVM): every read
 * goes through gmem_ptr(), so a corrupt guest yields violations, never a crash.
 * Rules (the guest kernel's, guest/kernel/mm.h): refcount[f] == user PTEs
 * mapping f in all address spaces + pins[f] (page tables, kernel stacks and the
 * zero frame are pinned; zero-frame PTEs count like any other); a free frame
 * has refcount 0.  A large leaf counts once for each 4 KiB frame it covers.
 * "Shared" means more than one PTE reference: refcount - pins > 1.
 * ========================================================================= */
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
	AV_PROC,            /* process table or checkpoint arguments inconsistent */
	AV_TRANSLATE,       /* walker and KVM_TRANSLATE disagree */
	AV_DIRTY,           /* KVM's dirty log contradicts a COW fault's resolution */
	AV_REGION,          /* after fork: a page's PTE contradicts its region's permissions */
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

/* What the last audit saw of one live process (per-process page summary). */
struct audit_proc {
	int32_t pid, ppid;
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

/* Guest arrays, bounds-checked: false if f is out of range or no descriptor. */
bool audit_frame_counts(const struct audit *a, uint64_t f, uint32_t *refcount, uint32_t *pins);

/* Process-table entry i (0..nproc-1): false for a free slot or a bad entry. */
bool audit_proc_entry(const struct audit *a, uint32_t i, struct audit_proc *out);

/* Record a violation found outside audit_run() (e.g. the KVM_TRANSLATE
 * cross-check) into the last audit's list. */
void audit_add(struct audit *a, const struct audit_violation *v);

const char *audit_kind_name(enum audit_kind k);
const char *audit_checkpoint_name(uint32_t cp);
/* One line "kind: pid P va V: detail (PTE ..., frame ...)" into buf. */
const char *audit_format(const struct audit_violation *v, char *buf, size_t n);

/* ===========================================================================
 * inspect.c — HC_INSPECT and the audit options of a run.  At each checkpoint:
 * apply a --mutate (once), audit, cross-check the walker against
 * KVM_TRANSLATE when the audited CR3 is the vCPU's, take --dump-pt / --dot
 * snapshots, write the verdict back, and end the run with
 * VMM_EXIT_GUEST_FAIL on a violation (unless --audit-continue).
 * ========================================================================= */
#define AUDIT_FULL_EVERY_DEFAULT 64u /* --audit-full-every */
struct inspect_opts {
	bool audit;              /* checkpoints audited (COWVMM_BOOT_F_AUDIT) */
	bool keep_going;         /* --audit-continue: count violations, do not stop */
	bool quiet;              /* -q: no end-of-run summary unless a violation */
	const char *report_path; /* --report FILE: JSON */
	const char *dump_pt;     /* --dump-pt PID|all[@WHEN] */
	const char *dot_dir;     /* --dot DIR */
	const char *mutate;      /* --mutate KIND */
};
extern struct inspect_opts inspect_opts;

/* getopt_long entries (values >= 0x4100) and their handler: returns 0 when
 * handled, VMM_EXIT_USAGE on a bad argument, -1 when `c` is not ours. */
#define INSPECT_LONGOPTS \
	{ "audit", no_argument, NULL, 0x4100 }, \
	{ "no-audit", no_argument, NULL, 0x4101 }, \
	{ "audit-continue", no_argument, NULL, 0x4102 }, \
	{ "report", required_argument, NULL, 0x4103 }, \
	{ "dump-pt", required_argument, NULL, 0x4104 }, \
	{ "dot", required_argument, NULL, 0x4105 }, \
	{ "mutate", required_argument, NULL, 0x4106 }, \
	{ "audit-full-every", required_argument, NULL, 0x4107 }, \
	{ "no-dirty-log", no_argument, NULL, 0x4108 }
int inspect_option(int c, const char *arg);
void inspect_usage(FILE *f);          /* the --help lines of these options */
/* COWVMM_BOOT_F_AUDIT when auditing: always, unless --no-audit, or a --bench
 * run without an option that needs the audit.  Dirty logging never with bench. */
uint32_t inspect_boot_flags(bool bench);
void inspect_count_exit(struct vm *vm); /* after every KVM_RUN: exit-reason counts */
/* After vm_run(): dump, text summary, JSON report; returns the final status
 * (VMM_EXIT_USAGE if the report cannot be written). */
int inspect_finish(struct vm *vm, int status);

/* ===========================================================================
 * dirty.c — KVM dirty logging on memslot 0 (verification runs; never with
 * --bench).  inspect.c enables it at the first checkpoint, fetches (and so
 * resets) the log at CP_COW_BEFORE and judges it at CP_COW_AFTER
 * (audit_dirty_check()).
 * ========================================================================= */
int dirty_enable(struct vm *vm);  /* 0 or -errno */
/* KVM_GET_DIRTY_LOG: the frames written since the last fetch (1 bit each,
 * *nbits of them); NULL with *err = -errno on failure. */
const uint64_t *dirty_fetch(struct vm *vm, uint64_t *nbits, int *err);
/* --mutate dirty-old: make KVM itself write 12 bytes at gpa (logged as a
 * guest write), then restore them; 0 or -errno. */
int dirty_kvm_write(struct vm *vm, uint64_t gpa);
void dirty_free(void);

/* ===========================================================================
 * report.c — what a run's audits found: checkpoint counts, violations, the
 * per-process page summary, exit-reason counts; as text and as versioned
 * JSON (doc/report-schema.md).  One report per process (static state).
 * ========================================================================= */
#define REPORT_SCHEMA_VERSION 1
void report_checkpoint(const struct cowvmm_hc_inspect *cp, const struct audit *a);
void report_exit(uint32_t kvm_exit_reason, int hypercall); /* hypercall nr or -1 */
/* How the run audited (inspect_finish(), before report_text/report_json). */
void report_audit_info(uint64_t full, uint64_t local, uint64_t fallback, unsigned full_every,
		       const char *dirty_state, const char *dirty_why, uint64_t dirty_checked);
void report_text(FILE *f, const struct vm *vm, int status);
int report_json(const char *path, const struct vm *vm, int status); /* 0 or -errno */

/* ===========================================================================
 * ptdump.c — page tables as text: per process, QEMU `info mem` style merged
 * ranges, then `info tlb` style pages with the COW flag and the frame's
 * refcount/pins.  `which` is a pid or -1 for every live process.
 * ========================================================================= */
void ptdump(FILE *f, struct audit *a, int which);

/* ===========================================================================
 * dot.c — Graphviz pictures of two processes' page-table trees and the frames
 * they reach (runs of pages collapsed, shared COW frames highlighted, the
 * page at `va` marked).  Writes DIR/NAME.dot and, when `dot` is on PATH,
 * DIR/NAME.svg.  Returns 0 or -errno.
 * ========================================================================= */
int dot_write(const char *dir, const char *name, const char *title, struct audit *a,
	      int pid, int pid2, uint64_t va);

/* ===========================================================================
 * mutate.c — test the auditor: break one invariant in guest memory the way a
 * buggy kernel would (a shared COW frame made writable, a reference leaked or
 * dropped, a PTE pointed at a free frame).  Applied once, at the first fork
 * checkpoint, on the parent's first COW page.
 * ========================================================================= */
bool mutate_kind_valid(const char *kind);
/* Returns true (and says what it did in what[n]) if applied. */
bool mutate_apply(struct audit *a, const char *kind, const struct cowvmm_hc_inspect *cp,
		  char *what, size_t n);
extern const char *const mutate_kinds[]; /* NULL-terminated */

#endif /* COWVMM_VMM_H */
