/* cowvmm/abi.h — the versioned guest<->VMM interface: boot info, hypercalls, discovery. */
#ifndef COWVMM_ABI_H
#define COWVMM_ABI_H

/*
 * This header is shared by the guest kernel (freestanding) and the VMM (hosted).
 * It depends on C99 headers only.  Every structure is made of fixed-size fields,
 * naturally aligned, with explicit padding, so both sides agree on the layout.
 *
 * Direction notes on fields:  IN  = written by the VMM, read by the guest;
 *                             OUT = written by the guest, read by the VMM.
 *
 * The VMM treats every OUT field as hostile: it bounds-checks every guest
 * physical address and length before touching memory.
 */

#include <stdint.h>

/* Bumped on any incompatible change.  The guest checks boot_info.abi_version
 * at boot and panics under a VMM of another version. */
#define COWVMM_ABI_VERSION 1u

/* ---------------------------------------------------------------------------
 * Guest physical / virtual memory layout agreed by both sides.
 * ------------------------------------------------------------------------- */

#define COWVMM_PAGE_SIZE 4096u

/* The VMM builds these at boot; the guest may reuse or replace them. */
#define COWVMM_BOOT_GDT_GPA      0x1000u  /* 3 descriptors: null, code64, data */
#define COWVMM_BOOT_INFO_GPA     0x2000u  /* struct cowvmm_boot_info */
#define COWVMM_BOOT_PT_GPA       0x10000u /* boot page tables (up to 64 KiB) */
#define COWVMM_BOOT_PT_END       0x20000u
/* Lowest guest-physical address a kernel PT_LOAD segment may occupy. */
#define COWVMM_KERNEL_MIN_GPA    0x100000u

/*
 * Kernel virtual layout (Linux-like).  The VMM's boot page tables map all of
 * guest RAM twice: at COWVMM_DIRECT_MAP_BASE (the "direct map") and at
 * COWVMM_KERNEL_BASE (where the kernel image is linked; covers up to 1 GiB).
 * A kernel PT_LOAD must satisfy p_vaddr == COWVMM_KERNEL_BASE + p_paddr.
 * Nothing is mapped in the lower (user) half at boot.
 */
#define COWVMM_DIRECT_MAP_BASE   0xffff888000000000ull
#define COWVMM_KERNEL_BASE       0xffffffff80000000ull
#define COWVMM_KERNEL_MAP_SIZE   0x40000000ull /* 1 GiB */

/* Guest RAM limits enforced by the VMM (-m).  RAM stays below 3 GiB so every
 * hypercall argument address fits the 32-bit port I/O data. */
#define COWVMM_RAM_MIN           (4ull << 20)
#define COWVMM_RAM_MAX           (3ull << 30)

/* ---------------------------------------------------------------------------
 * Page-table entry bits (x86-64, 4-level) and the guest's software COW flag.
 * The VMM's verifier reads guest PTEs with these definitions.
 * ------------------------------------------------------------------------- */
#define COWVMM_PTE_P    (1ull << 0)   /* present */
#define COWVMM_PTE_RW   (1ull << 1)   /* writable */
#define COWVMM_PTE_US   (1ull << 2)   /* user accessible */
#define COWVMM_PTE_PWT  (1ull << 3)
#define COWVMM_PTE_PCD  (1ull << 4)
#define COWVMM_PTE_A    (1ull << 5)   /* accessed */
#define COWVMM_PTE_D    (1ull << 6)   /* dirty (leaf only) */
#define COWVMM_PTE_PS   (1ull << 7)   /* large page (PDPTE/PDE) */
#define COWVMM_PTE_G    (1ull << 8)   /* global */
#define COWVMM_PTE_COW  (1ull << 9)   /* software: copy-on-write, RW cleared */
#define COWVMM_PTE_ZERO (1ull << 10)  /* software: maps the shared zero frame */
#define COWVMM_PTE_NX   (1ull << 63)  /* no execute */
#define COWVMM_PTE_ADDR 0x000ffffffffff000ull /* bits 51:12 */

/* ---------------------------------------------------------------------------
 * Boot handshake.  The VMM starts vCPU 0 (the bootstrap CPU) in 64-bit mode at
 * the ELF entry with
 *   RDI = COWVMM_BOOT_INFO_GPA (guest physical; read it through the direct map)
 *   RSI = COWVMM_BOOT_MAGIC
 *   RSP = 0 (the kernel sets up its own stack first thing)
 *   RFLAGS.IF = 0
 * The other vCPUs (boot_info.ncpus - 1 of them, vCPU i with x2APIC ID i in
 * its CPUID) exist but do not run until the kernel starts each one with
 * HC_CPU_START: no INIT/SIPI, no real-mode trampoline.  With more than one
 * vCPU the VMM creates KVM's in-kernel irqchip (LAPICs: x2APIC MSRs, IPIs,
 * the LAPIC timer; a HLT with interrupts enabled stays inside KVM).
 * ------------------------------------------------------------------------- */
#define COWVMM_BOOT_MAGIC 0x636f77766d6d3031ull /* "cowvmm01" */
#define COWVMM_CMDLINE_MAX 256u
#define COWVMM_MAX_CPUS 16u

/* Bits of cowvmm_boot_info.flags (IN). */
#define COWVMM_BOOT_F_AUDIT     (1u << 0) /* VMM audits at checkpoints: call HC_INSPECT */
#define COWVMM_BOOT_F_BENCH     (1u << 1) /* timing run: no checkpoints inside timed loops */
#define COWVMM_BOOT_F_VERBOSE   (1u << 2) /* kernel may print debug traces */
#define COWVMM_BOOT_F_EXPLORE   (1u << 3) /* the VMM chooses who runs: call HC_SCHED at schedule points */

struct cowvmm_boot_info {
	uint64_t magic;          /* IN: COWVMM_BOOT_MAGIC */
	uint32_t abi_version;    /* IN: COWVMM_ABI_VERSION of the VMM */
	uint32_t flags;          /* IN: COWVMM_BOOT_F_* */
	uint64_t ram_size;       /* IN: bytes of guest RAM starting at GPA 0 */
	uint64_t kernel_end_gpa; /* IN: first GPA past the highest kernel PT_LOAD, page aligned */
	uint64_t tsc_khz;        /* IN: vCPU TSC frequency in kHz (0 if unknown) */
	uint64_t seed;           /* IN: --seed, for anything random in the guest */
	uint64_t inject_gpa;     /* IN: GPA of struct cowvmm_inject_plan, 0 if none */
	uint32_t ncpus;          /* IN: vCPUs of this VM (1 .. COWVMM_MAX_CPUS); 0 from VMMs before SMP: read as 1 */
	uint32_t reserved32;     /* IN: zero */
	uint64_t reserved[7];    /* IN: zero */
	char cmdline[COWVMM_CMDLINE_MAX]; /* IN: NUL-terminated: program name and args */
};

/* ---------------------------------------------------------------------------
 * Hypercalls.  The guest executes `outl %eax, %dx` with
 *   DX  = COWVMM_HC_PORT_BASE + nr
 *   EAX = guest-physical address of the argument struct (below 4 GiB)
 * The VMM handles it before the instruction retires; OUT fields below are the
 * guest's inputs to the VMM, IN fields are written back by the VMM.
 * An invalid argument address or length ends the run as a guest error.
 * ------------------------------------------------------------------------- */
#define COWVMM_HC_PORT_BASE 0x500u

enum cowvmm_hypercall {
	COWVMM_HC_CONSOLE = 0,   /* struct cowvmm_hc_console */
	COWVMM_HC_EXIT = 1,      /* struct cowvmm_hc_exit; does not return */
	COWVMM_HC_ASSERT = 2,    /* struct cowvmm_hc_assert; does not return */
	COWVMM_HC_CRASH = 3,     /* struct cowvmm_hc_crash; does not return */
	COWVMM_HC_DESCRIBE = 4,  /* struct cowvmm_hc_describe */
	COWVMM_HC_INSPECT = 5,   /* struct cowvmm_hc_inspect */
	COWVMM_HC_BENCH = 6,     /* struct cowvmm_hc_bench */
	COWVMM_HC_INJECT = 7,    /* struct cowvmm_hc_inject_point */
	COWVMM_HC_CPU_START = 8, /* struct cowvmm_hc_cpu_start */
	COWVMM_HC_SCHED = 9,     /* struct cowvmm_hc_sched (only with COWVMM_BOOT_F_EXPLORE) */
	COWVMM_HC_COUNT
};

#define COWVMM_CONSOLE_MAX 4096u /* longest single console write */
#define COWVMM_STRING_MAX  256u  /* longest string the VMM reads by address */

struct cowvmm_hc_console {
	uint64_t buf_gpa; /* OUT: bytes to print */
	uint64_t len;     /* OUT: <= COWVMM_CONSOLE_MAX */
};

struct cowvmm_hc_exit {
	uint64_t status;  /* OUT: 0 = success; anything else = guest-reported failure */
};

struct cowvmm_hc_assert {
	uint64_t file_gpa; /* OUT: NUL-terminated source file name (<= COWVMM_STRING_MAX) */
	uint64_t expr_gpa; /* OUT: NUL-terminated expression or message (<= COWVMM_STRING_MAX) */
	uint64_t line;     /* OUT: source line */
};

/* Register snapshot of the interrupted context, as pushed by the guest's trap entry. */
struct cowvmm_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags, cs, ss;
	uint64_t cr0, cr2, cr3, cr4;
};

/* Kinds of cowvmm_hc_crash.kind. */
#define COWVMM_CRASH_EXCEPTION 0u /* CPU exception the kernel cannot handle */
#define COWVMM_CRASH_PANIC     1u /* kernel bug: panic()/BUG() with a message */
/*
 * The host's KVM cannot run the guest's user mode: it entered the kernel's
 * SYSCALL entry (the address in MSR LSTAR) still in ring 3, so fetching the
 * first instruction there faulted.  The guest sees a user-mode
 * instruction-fetch page fault (error code U and I set) whose RIP and CR2 are
 * both the SYSCALL entry, with RFLAGS.IF cleared by SYSCALL's mask -- impossible
 * on a correct CPU, which switches to ring 0 before fetching there (a user
 * program that merely jumps to that address runs with IF set and gets an
 * ordinary segfault).  Seen with PVM-style /dev/kvm, where ring 0
 * works and ring 3 does not.  Not a kernel bug and not the program's fault, so
 * instead of killing the process the guest reports: vector (14), error_code,
 * regs (the trap frame: RIP = CR2 = the SYSCALL entry, CS as pushed), pid and
 * msg_gpa, a short message.  The VMM must exit 3 ("this host cannot run KVM")
 * and tell the user to run through tools/kvm-run (or `make run`), which runs
 * real KVM nested in QEMU.
 */
#define COWVMM_CRASH_HOST_NO_USER_MODE 2u

struct cowvmm_hc_crash {
	uint32_t kind;        /* OUT: COWVMM_CRASH_* */
	uint32_t vector;      /* OUT: exception vector (EXCEPTION) */
	uint64_t error_code;  /* OUT: exception error code, 0 if none */
	uint64_t file_gpa;    /* OUT: source file of the report (NUL-terminated) or 0 */
	uint64_t msg_gpa;     /* OUT: message (NUL-terminated) or 0 */
	uint64_t line;        /* OUT: source line, 0 if unknown */
	uint64_t pid;         /* OUT: current process id, 0 if none */
	struct cowvmm_regs regs; /* OUT: interrupted context */
};

/* ---------------------------------------------------------------------------
 * Discovery (HC_DESCRIBE): once at boot, the guest tells the VMM where its
 * process table and frame reference counts live so that the VMM can verify COW
 * invariants from outside.  All addresses are guest physical.
 * ------------------------------------------------------------------------- */
#define COWVMM_LAYOUT_VERSION 1u

struct cowvmm_proc_layout {
	uint32_t stride;      /* OUT: bytes between consecutive process entries */
	uint32_t off_pid;     /* OUT: offset of int32 pid (0 = free slot) */
	uint32_t off_ppid;    /* OUT: offset of int32 parent pid */
	uint32_t off_state;   /* OUT: offset of uint32 state (COWVMM_PSTATE_*) */
	uint32_t off_cr3;     /* OUT: offset of uint64 page-table root (physical) */
	uint32_t off_name;    /* OUT: offset of char[16] program name */
	/* Added to layout 1 in its reserved area.  Threads: entries with the same
	 * thread-group id share one address space (the same cr3, walked once);
	 * the group's regions are those of the entry whose pid is the tgid (the
	 * group leader, whose slot lives until the group's last thread is gone).
	 * 0: no threads, every entry is its own group (tgid = pid). */
	uint32_t off_tgid;    /* OUT: offset of int32 thread-group id, or 0 */
	uint32_t reserved;
};

/* Process states as the VMM reads them. */
#define COWVMM_PSTATE_UNUSED   0u
#define COWVMM_PSTATE_EMBRYO   1u /* being forked: not yet audited */
#define COWVMM_PSTATE_RUNNABLE 2u
#define COWVMM_PSTATE_RUNNING  3u
#define COWVMM_PSTATE_SLEEPING 4u
#define COWVMM_PSTATE_ZOMBIE   5u /* address space already released */

struct cowvmm_hc_describe {
	uint32_t layout_version;  /* OUT: COWVMM_LAYOUT_VERSION */
	uint32_t nproc;           /* OUT: entries in the process table */
	uint64_t proc_table_gpa;  /* OUT: first entry */
	struct cowvmm_proc_layout proc; /* OUT */
	uint64_t refcount_gpa;    /* OUT: uint32 refcount[nframes], indexed by frame number */
	uint64_t nframes;         /* OUT: frames covered (frame n = GPA n*4096) */
	uint64_t first_frame;     /* OUT: lowest frame the allocator manages */
	uint64_t free_count_gpa;  /* OUT: uint64 number of free frames */
	uint64_t pins_gpa;        /* OUT: uint32 kernel pins[nframes] (references not from PTEs) */
	uint64_t zero_frame;      /* OUT: frame number of the shared zero frame */
	uint64_t kernel_pml4_gpa; /* OUT: kernel-only page-table root */
	uint64_t stats_gpa;       /* OUT: struct cowvmm_guest_stats */
	/* Added to layout 1 in its reserved area (a guest that leaves them 0 does
	 * not describe its regions; the VMM then skips the region checks): where
	 * each process entry keeps its regions, so the VMM knows which pages may
	 * be written. */
	uint32_t off_regions;     /* OUT: offset in a process entry of struct cowvmm_region[max_regions], 0 = none */
	uint32_t off_nregions;    /* OUT: offset of the int32 number of regions in use */
	uint32_t max_regions;     /* OUT: capacity of that array */
	uint32_t region_stride;   /* OUT: bytes between regions (>= sizeof(struct cowvmm_region)) */
	uint64_t reserved[2];
};

/* One region of an address space (like a Linux VMA), as the VMM reads it. */
struct cowvmm_region {
	uint64_t start, end;  /* OUT: [start, end), page aligned */
	uint32_t prot;        /* OUT: COWVMM_PROT_* */
	uint32_t kind;        /* OUT: COWVMM_REGION_* */
};
#define COWVMM_PROT_READ  1u
#define COWVMM_PROT_WRITE 2u
#define COWVMM_PROT_EXEC  4u
/* Region kinds: text and rodata are never written, even after mprotect. */
#define COWVMM_REGION_TEXT   0u
#define COWVMM_REGION_RODATA 1u
#define COWVMM_REGION_DATA   2u
#define COWVMM_REGION_HEAP   3u
#define COWVMM_REGION_STACK  4u
#define COWVMM_REGION_MMAP   5u

/* Counters kept by the guest, read by the VMM at any time. */
struct cowvmm_guest_stats {
	uint64_t forks;         /* OUT: successful forks */
	uint64_t fork_failures; /* OUT: forks that returned -ENOMEM */
	uint64_t cow_copies;    /* OUT: COW faults that copied a frame */
	uint64_t cow_reuses;    /* OUT: COW faults that reused the frame in place */
	uint64_t zero_fills;    /* OUT: write faults on the zero frame (fresh frame, no copy) */
	uint64_t oom_kills;     /* OUT: processes killed for lack of memory */
	uint64_t segv_kills;    /* OUT: processes killed for a bad access */
	uint64_t spurious_faults; /* OUT: page faults that needed no change */
	uint64_t nmis;          /* OUT: non-maskable interrupts taken (and ignored) */
	/* Several CPUs and the timer (0 from kernels before SMP). */
	uint64_t timer_ticks;   /* OUT: LAPIC timer interrupts taken, all CPUs */
	uint64_t preemptions;   /* OUT: user code switched out at a timer tick */
	uint64_t ipis_sent;     /* OUT: inter-processor interrupts sent (shootdown, wake-up) */
	uint64_t tlb_shootdowns; /* OUT: shootdown rounds that had another CPU to flush */
	uint64_t cow_races;     /* OUT: COW faults that found the PTE already fixed under the lock (backed out) */
	uint64_t threads;       /* OUT: threads created (clone) */
	uint64_t reserved[1];
};

/* ---------------------------------------------------------------------------
 * Checkpoints (HC_INSPECT): the guest asks the VMM to verify its memory now.
 * The VMM answers through `verdict`; a violation normally ends the run.
 * ------------------------------------------------------------------------- */
enum cowvmm_checkpoint {
	COWVMM_CP_BOOT = 0,       /* kernel ready, before the first process */
	COWVMM_CP_FORK = 1,       /* after fork: pid = parent, pid2 = child */
	COWVMM_CP_COW_BEFORE = 2, /* write fault on a COW page, before resolution: pid, va */
	COWVMM_CP_COW_AFTER = 3,  /* after resolution: pid, va, frame_old, frame_new */
	COWVMM_CP_EXIT = 4,       /* after a process released its memory: pid */
	COWVMM_CP_USER = 5,       /* asked for by a user program: pid, label */
	COWVMM_CP_COUNT
};

struct cowvmm_hc_inspect {
	uint32_t checkpoint; /* OUT: enum cowvmm_checkpoint */
	int32_t pid;         /* OUT: process concerned */
	int32_t pid2;        /* OUT: second process (child after fork), or 0 */
	uint32_t label;      /* OUT: free-form tag (user checkpoint number) */
	uint64_t va;         /* OUT: faulting virtual address (COW checkpoints) */
	uint64_t frame_old;  /* OUT: frame mapped before the fault */
	uint64_t frame_new;  /* OUT: frame mapped after the fault */
	uint32_t verdict;    /* IN: 0 = invariants hold; otherwise violations found */
	uint32_t reserved;
};

/* ---------------------------------------------------------------------------
 * Benchmark samples (HC_BENCH): the guest collects TSC deltas into a buffer in
 * its own memory and hands the whole buffer over once, at the end.
 * ------------------------------------------------------------------------- */
enum cowvmm_bench_event {
	COWVMM_EV_COW_FAULT = 0,   /* fault handler entry -> exit, copying */
	COWVMM_EV_COW_WRITE = 1,   /* user-visible write that took a COW fault */
	COWVMM_EV_REUSE_FAULT = 2, /* handler, refcount 1 reuse */
	COWVMM_EV_REUSE_WRITE = 3,
	COWVMM_EV_ZERO_FAULT = 4,  /* write fault on the zero frame */
	COWVMM_EV_FORK = 5,        /* fork latency, parent view; arg = mapped pages */
	COWVMM_EV_FORK_ROUNDTRIP = 6, /* fork + child exit + wait */
	COWVMM_EV_PLAIN_WRITE = 7, /* write without fault (baseline) */
	COWVMM_EV_COPY_PAGE = 8,   /* 4 KiB rep movsq copy in the guest: the floor of a COW copy */
	/* Several CPUs: arg = T, the writer's or forker's other threads, each
	 * spinning in user mode on a CPU of its own (so the address space is
	 * loaded there and every downgrade is a TLB shootdown to T CPUs). */
	COWVMM_EV_COW_WRITE_MT = 9, /* user-visible write that took a COW fault (copy), T threads elsewhere */
	COWVMM_EV_FORK_MT = 10,     /* fork latency, parent view, T threads elsewhere; pages mapped fixed (doc/bench.md) */
	COWVMM_EV_COUNT
};

struct cowvmm_sample {
	uint32_t event;  /* OUT: enum cowvmm_bench_event */
	uint32_t arg;    /* OUT: event argument (pages mapped for FORK, threads for *_MT) */
	uint64_t ticks;  /* OUT: TSC delta */
};

struct cowvmm_hc_bench {
	uint64_t samples_gpa; /* OUT: struct cowvmm_sample[count] */
	uint64_t count;       /* OUT: number of samples */
	uint32_t phase;       /* OUT: 0 = begin timed loop, 1 = end timed loop, 2 = samples ready */
	uint32_t reserved;
};
/* Phases 0 and 1 label the loop in `count`: event | (uint64_t)arg << 32
 * (samples_gpa unused); phase 2 may be sent more than once (batches append). */

/* ---------------------------------------------------------------------------
 * Fault injection plan (IN): written by the VMM into guest RAM before boot;
 * boot_info.inject_gpa points at it.  The guest consults it at each
 * allocation site and updates the OUT counters.
 * ------------------------------------------------------------------------- */
enum cowvmm_alloc_site {
	COWVMM_SITE_DATA_FRAME = 0, /* user data page (COW copy, zero fill, sbrk) */
	COWVMM_SITE_PT_PAGE = 1,    /* page-table page */
	COWVMM_SITE_TASK = 2,       /* task struct / process slot */
	COWVMM_SITE_KSTACK = 3,     /* kernel stack */
	COWVMM_SITE_FDTABLE = 4,    /* file table entry */
	COWVMM_SITE_PIPE = 5,       /* pipe buffer */
	COWVMM_SITE_COUNT
};

/* How a rule fires (cowvmm_inject_rule.mode). */
#define COWVMM_INJ_OFF        0u
#define COWVMM_INJ_NTH        1u /* fail only the nth call (1-based) */
#define COWVMM_INJ_FROM_NTH   2u /* fail every call from the nth on */
#define COWVMM_INJ_EVERY_NTH  3u /* fail calls nth, 2*nth, ... */
#define COWVMM_INJ_RANDOM     4u /* fail with probability ppm/1e6, seeded */

struct cowvmm_inject_rule {
	uint32_t mode;       /* IN: COWVMM_INJ_* */
	uint32_t ppm;        /* IN: probability in parts per million (RANDOM) */
	uint64_t nth;        /* IN: n for NTH / FROM_NTH / EVERY_NTH */
	uint64_t calls;      /* OUT: calls seen at this site */
	uint64_t injected;   /* OUT: failures injected at this site */
};

#define COWVMM_INJECT_MAGIC 0x6a6e69ull /* "inj" */

struct cowvmm_inject_plan {
	uint64_t magic;      /* IN: COWVMM_INJECT_MAGIC */
	uint64_t seed;       /* IN: PRNG seed for RANDOM rules */
	uint32_t any_site;   /* IN: 1 = rule[0] counts calls across all sites together */
	uint32_t reserved;
	struct cowvmm_inject_rule rule[COWVMM_SITE_COUNT]; /* IN/OUT, by enum cowvmm_alloc_site */
};

/* Inject points (HC_INJECT): the guest tells the VMM it reached a point where
 * a VMM-side injection (exception, PTE corruption) may be applied. */
struct cowvmm_hc_inject_point {
	uint32_t checkpoint; /* OUT: enum cowvmm_checkpoint it corresponds to */
	int32_t pid;         /* OUT: current process */
	uint64_t va;         /* OUT: address of interest (0 if none) */
	uint32_t applied;    /* IN: nonzero if the VMM changed something */
	uint32_t reserved;
};

/* ---------------------------------------------------------------------------
 * HC_CPU_START: the kernel starts vCPU `cpu` (1 .. ncpus-1, each once).  The
 * VMM puts it straight into 64-bit mode -- the boot GDT's code and data
 * segments, CR0/CR4/EFER as at boot, the given CR3 -- with
 *   RIP = rip, RSP = rsp (kernel virtual addresses: its own stack),
 *   RDI = arg, RSI = cpu, RFLAGS.IF = 0,
 * makes it runnable (KVM_SET_MP_STATE) on a host thread of its own, and
 * returns.  The new CPU loads its own GDT, TSS and IDT first thing.
 * A cpu out of range or already started, a non-canonical rip/rsp, or a CR3
 * outside RAM ends the run as a guest error.
 * ------------------------------------------------------------------------- */
struct cowvmm_hc_cpu_start {
	uint32_t cpu;   /* OUT: vCPU index to start */
	uint32_t pad;   /* OUT: zero */
	uint64_t rip;   /* OUT: entry point (kernel virtual, 64-bit code) */
	uint64_t rsp;   /* OUT: initial stack pointer (kernel virtual) */
	uint64_t arg;   /* OUT: handed over in RDI */
	uint64_t cr3;   /* OUT: root page table it starts on (guest physical) */
};

/* ---------------------------------------------------------------------------
 * Schedule points (HC_SCHED, only when the boot flags say COWVMM_BOOT_F_EXPLORE):
 * places where the VMM may let another vCPU run (vmm --explore).  With it
 * one vCPU runs at a time; the VMM picks the next at every point.
 * ------------------------------------------------------------------------- */
enum cowvmm_sched_point {
	COWVMM_SP_WAIT = 0,        /* spinning until another CPU does something: run another */
	COWVMM_SP_IDLE = 1,        /* about to halt, nothing to run: not to be chosen until woken */
	COWVMM_SP_WAKE = 2,        /* arg = CPUs just sent a wake-up IPI (bit i: CPU i) */
	COWVMM_SP_YIELD = 3,       /* a process gave its CPU up (sched_yield): run another */
	COWVMM_SP_COW_UNLOCKED = 4, /* COW copy, several threads: mm lock dropped, before the copy */
	COWVMM_SP_COW_COPIED = 5,  /* ... copied, before the lock is taken again and the PTE re-checked */
	COWVMM_SP_FORK = 6,        /* fork: the child's tables made, before returning to the parent */
	COWVMM_SP_EXIT = 7,        /* exit: before the address space is released */
	COWVMM_SP_COUNT
};

struct cowvmm_hc_sched {
	uint32_t point;  /* OUT: enum cowvmm_sched_point */
	uint32_t pad;    /* OUT: zero */
	uint64_t arg;    /* OUT: COWVMM_SP_WAKE: a CPU mask; else 0 */
};

#endif /* COWVMM_ABI_H */
