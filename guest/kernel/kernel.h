/* guest/kernel/kernel.h — declarations shared by every kernel file: basics, console, assertions, boot data. */
#ifndef GUEST_KERNEL_H
#define GUEST_KERNEL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "cowvmm/abi.h"
#include "syscall.h"

#define PAGE_SIZE 4096ull
#define PAGE_SHIFT 12
#define PAGE_DOWN(x) ((uint64_t)(x) & ~(PAGE_SIZE - 1))
#define PAGE_UP(x) (((uint64_t)(x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Lowest non-user address: user pointers must lie entirely below it. */
#define USER_TOP 0x0000800000000000ull

/* Kernel virtual <-> guest physical.  Everything the kernel allocates at run
 * time is reached through the direct map; the image itself through KERNEL_BASE. */
static inline void *phys_to_virt(uint64_t pa)
{
	return (void *)(COWVMM_DIRECT_MAP_BASE + pa);
}
uint64_t virt_to_phys(const void *va);

#ifdef __FILE_NAME__
#define KFILE __FILE_NAME__
#else
#define KFILE __FILE__
#endif

/* Kernel bugs end the run with a report the VMM prints. */
_Noreturn void assert_fail(const char *file, int line, const char *expr);
_Noreturn void panic_at(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define KASSERT(e) ((e) ? (void)0 : assert_fail(KFILE, __LINE__, #e))
#define panic(...) panic_at(KFILE, __LINE__, __VA_ARGS__)
#define BUG() panic("BUG")

/*
 * Bug kernels, for the tests that must show they catch each bug: `kbug=NAME`
 * words at the front of the command line (main.c) switch one of the kernel's
 * SMP safeguards off at run time.  Never set otherwise.
 */
enum {
	KBUG_NO_SHOOTDOWN = 1u << 0,     /* tlb_flush_mm flushes this CPU only */
	KBUG_PUT_BEFORE_FLUSH = 1u << 1, /* COW break drops the old frame, yields, then shoots down */
	KBUG_NO_RECHECK = 1u << 2,       /* COW fault installs its copy without re-checking the PTE */
	KBUG_FORK_NO_FLUSH = 1u << 3,    /* fork write-protects the parent without a shootdown */
	KBUG_NO_TIMER = 1u << 4,         /* no LAPIC timer: no preemption */
};
extern uint32_t kbugs;
#define kbug(b) (__builtin_expect((kbugs & (b)) != 0, 0))

/* Console (hypercall) output. */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_write(const char *buf, uint64_t len);
void console_for_crash(void);          /* before a crash report: print even if the lock is stuck */
struct cpu *dying_cpu(void);           /* this CPU for a crash report, even with a bad GS.base */
#define kdebug(...) do { if (boot.flags & COWVMM_BOOT_F_VERBOSE) kprintf(__VA_ARGS__); } while (0)

/* Shared library (guest/lib): formatting, memory and string helpers. */
#include "guestlib.h"

/* A copy of the VMM's boot info, taken before anything can overwrite it. */
extern struct cowvmm_boot_info boot;
extern struct cowvmm_guest_stats stats;
/* Several CPUs bump the counters: one locked add (one instruction, like the
 * plain increment it replaces). */
#define STAT_INC(f) __atomic_fetch_add(&stats.f, 1, __ATOMIC_RELAXED)

/* Hypercalls (hypercall.c): arg must live in the kernel image (GPA < 4 GiB). */
void hypercall(unsigned nr, void *arg);
_Noreturn void hc_exit(uint64_t status);
void describe_to_vmm(void);
void hc_cpu_start(uint32_t cpu, uint64_t rip, uint64_t rsp, uint64_t arg, uint64_t cr3);
uint32_t checkpoint_slow(uint32_t cp, int pid, int pid2, uint32_t label,
			 uint64_t va, uint64_t frame_old, uint64_t frame_new);
extern int checkpoints_wanted; /* the VMM audits or injects: checkpoints are exits */
/* Inline test first: on the fault path a checkpoint must cost nothing when off. */
#define checkpoint(...) (checkpoints_wanted ? checkpoint_slow(__VA_ARGS__) : 0u)
int audit_enabled(void);
int inject_point(uint32_t cp, int pid, uint64_t va);
/* vmm --explore: at a schedule point the VMM may let another vCPU run
 * (COWVMM_SP_*).  One test of a global when off, as checkpoints. */
extern int explore_on;
void sched_point_slow(uint32_t point, uint64_t arg);
#define sched_point(point, arg) do { if (__builtin_expect(explore_on, 0)) sched_point_slow((point), (arg)); } while (0)

/* Fault injection at allocation sites (inject.c). */
int should_fail(int site);
void inject_init(void);
void inject_start(void);                /* init is built: plans apply from now on */
long inject_arm(int site, int mode, uint64_t nth);

/* Boot stages (per-CPU ones: cpu.h). */
void idt_init(void);                    /* build the IDT every CPU shares, once */
void idt_load(void);                    /* ... and load it on this CPU */
void syscall_init(void);
int ktest_run(const char *cmdline);

#endif
