/* vmm/vmm.h — the VMM core: the VM object and its vCPUs, KVM wrappers, the module interface, the run loop. */
#ifndef COWVMM_VMM_H
#define COWVMM_VMM_H

/*
 * The core knows KVM, guest memory, the kernel image, booting, the run loop,
 * the exit and hypercall tables, the watchdog and logging.  It names no
 * feature: audits, reports, injection, timing, the probe... are modules
 * (struct vmm_module) that register their options, --help text, hypercall
 * and exit handlers, per-exit hooks and end-of-run reports.  A module's
 * per-run state lives in the VM object (vm_state()), never in a file-scope
 * variable.  See doc/HACKING.md.
 */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/kvm.h>

#include "cowvmm/abi.h"
#include "elf_load.h"
#include "guest_mem.h"
#include "log.h"
#include "outfile.h"
#include "world.h"

/* Exit statuses of `vmm` (documented in --help and README.md). */
enum vmm_exit {
	VMM_EXIT_OK = 0,          /* guest exited with status 0 */
	VMM_EXIT_GUEST_FAIL = 1,  /* guest reported failure: nonzero exit, assertion, audit violation */
	VMM_EXIT_USAGE = 2,       /* bad command line or invalid guest image */
	VMM_EXIT_NO_KVM = 3,      /* the host cannot run KVM (no /dev/kvm, missing capability) */
	VMM_EXIT_CRASH = 4,       /* guest crashed: exception, panic, triple fault, bad hypercall */
	VMM_EXIT_TIMEOUT = 5,     /* watchdog fired */
};

/* Handlers return VMM_CONTINUE to resume the vCPU, or an enum vmm_exit. */
#define VMM_CONTINUE (-1)

#define VMM_MAX_VCPUS COWVMM_MAX_CPUS
#define VMM_MAX_MODULES 24
#define VMM_MAX_EXIT_REASON 64   /* exit handlers registrable for reasons below this */

struct vm;

/* One virtual CPU.  Registers are cached between two KVM_RUNs: vcpu_regs()
 * and vcpu_sregs() ask KVM once per exit, the run loop drops the cache. */
struct vcpu {
	struct vm *vm;           /* owner */
	unsigned id;             /* KVM vCPU id = index in vm->vcpus */
	int fd;                  /* KVM_CREATE_VCPU, -1 when closed */
	struct kvm_run *run;     /* mmap of its kvm_run (vm->run_size bytes) */
	int stats_fd;            /* KVM_GET_STATS_FD once someone opened it, else -1 */
	pthread_t thread;        /* the thread running it (valid while have_thread) */
	bool have_thread;
	bool started;            /* running guest code: vCPU 0 from boot, others after HC_CPU_START */
	struct kvm_regs regs;    /* cache: valid if have_regs */
	struct kvm_sregs sregs;  /* cache: valid if have_sregs */
	bool have_regs, have_sregs;
};

struct vm_caps {
	bool immediate_exit; /* KVM_CAP_IMMEDIATE_EXIT: watchdog race-free */
	bool tsc_khz;        /* KVM_CAP_GET_TSC_KHZ */
	bool vcpu_events;    /* KVM_CAP_VCPU_EVENTS */
	bool sync_regs;      /* KVM_CAP_SYNC_REGS (informational) */
};

/* A hypercall handler: `arg` points into guest RAM, already bounds-checked
 * for the registered size and 8-byte aligned, so IN fields can be written
 * back; every OUT field is hostile (copy it once, then check it). */
typedef int (*vm_hypercall_fn)(struct vcpu *v, void *arg);
/* An exit handler for one KVM exit reason. */
typedef int (*vm_exit_fn)(struct vcpu *v);

struct vm_hypercall {
	size_t arg_size;
	vm_hypercall_fn fn;      /* NULL: no module handles it in this VMM */
	bool stop_world;         /* every other vCPU parked around the handler */
};

/* The VM object: owns guest memory, the kernel image, the vCPUs and every
 * module's per-run state.  One per run, passed explicitly. */
struct vm {
	/* Configuration (core options). */
	const char *kernel_path;
	uint64_t ram_size;
	unsigned timeout_s;      /* watchdog, 0 = none */
	unsigned ncpus;          /* --cpus: vCPUs to create (1 .. VMM_MAX_VCPUS) */
	uint64_t seed;
	bool quiet;              /* -q: no informational VMM messages */
	char cmdline[COWVMM_CMDLINE_MAX]; /* PROGRAM ARGS...; a module may set a default */
	uint32_t boot_flags;     /* COWVMM_BOOT_F_*, or-ed in by modules before boot */
	bool one_at_a_time;      /* a module (--explore) passes the turn: only vCPU 0 runs at first (world.h's runner) */
	uint64_t console_limit;  /* --console-limit: bytes of guest console output kept */
	uint64_t console_written;
	bool console_truncated;
	/* KVM. */
	int kvm_fd, vm_fd;
	size_t run_size;
	struct vm_caps cap;
	unsigned nvcpus;
	bool irqchip;          /* KVM_CREATE_IRQCHIP done: LAPICs, HLT stays in KVM */
	struct vcpu vcpus[VMM_MAX_VCPUS];
	/* Guest. */
	struct gmem mem;         /* guest RAM, memslot 0 at GPA 0 */
	struct kimage kernel;    /* symbols for reports; empty for --probe */
	/* Files the run may write (modules register them from their options),
	 * and the helper that writes them once the seccomp filter is on. */
	struct outfiles files;
	/* Tables filled by modules at setup. */
	struct vm_hypercall hc[COWVMM_HC_COUNT];
	vm_exit_fn exit_fn[VMM_MAX_EXIT_REASON];
	/* The vCPU threads and the stop-the-world protocol (world.h). */
	struct world world;
	/* The watchdog: a thread that kicks every vCPU once the time is up, and
	 * ends the process if VMM-side work is still running WD_GRACE_S later. */
	bool wd_armed;
	atomic_bool wd_fired;
	atomic_bool wd_handled;  /* a vCPU is reporting the timeout: stop kicking */
	bool wd_quit;
	_Atomic(const char *) busy; /* VMM-side work in progress (a static string), or NULL */
	pthread_t wd_thread;
	pthread_mutex_t wd_lock;
	pthread_cond_t wd_cond;
	/* The registered modules, in order, and each one's state (vm_state()). */
	size_t nmods;
	const struct vmm_module *mods[VMM_MAX_MODULES];
	void *mod_state[VMM_MAX_MODULES];
};

/* ---- kvm.c: raw and asserting ioctl wrappers, VM and vCPU creation ------- */
/* kvm_try() returns the ioctl's result or -errno.  KVM_CHECK() does the same
 * ioctl but on failure prints the ioctl's name and the caller's description
 * of the values, then exits VMM_EXIT_NO_KVM: this host's KVM refused
 * something a correct VMM needs. */
int kvm_try(int fd, unsigned long req, void *arg);
int kvm_check_(int fd, unsigned long req, void *arg, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define KVM_CHECK(fd, req, arg, ...) kvm_check_((fd), (req), (arg), #req, __VA_ARGS__)

/* Open /dev/kvm, check the API version and every capability relied on,
 * create the VM, register vm->mem as memslot 0, create KVM's in-kernel
 * irqchip if asked (LAPICs for the guest's timer and IPIs), create `nvcpus`
 * vCPUs and map their kvm_run.  0, or VMM_EXIT_NO_KVM after one line. */
int kvm_setup(struct vm *vm, unsigned nvcpus, bool irqchip);
/* Close everything kvm_setup() opened; safe after a partial setup. */
void kvm_teardown(struct vm *vm);

/* Cached KVM_GET_REGS / KVM_GET_SREGS of a stopped vCPU; NULL if KVM refuses.
 * vcpu_set_sregs() writes through (KVM_CHECK) and keeps the cache. */
const struct kvm_regs *vcpu_regs(struct vcpu *v);
const struct kvm_sregs *vcpu_sregs(struct vcpu *v);
void vcpu_set_sregs(struct vcpu *v, const struct kvm_sregs *s);
void vcpu_forget_regs(struct vcpu *v);
/* Guest virtual -> physical through the vCPU's page tables (KVM_TRANSLATE).
 * 0 and *gpa, or -1 if unmapped or refused. */
int vcpu_translate(struct vcpu *v, uint64_t gva, uint64_t *gpa);

/* ---- boot.c: long mode from the first instruction ------------------------ */
/* Build the GDT and boot page tables in guest RAM (once per VM). */
void boot_setup_memory(struct vm *vm);
/* Load a vCPU's sregs, regs (RIP = entry, RDI/RSI as in the ABI), FPU and
 * CPUID.  Dies through KVM_CHECK if KVM refuses the state. */
void boot_setup_vcpu(struct vcpu *v, uint64_t entry);
/* Fill struct cowvmm_boot_info at COWVMM_BOOT_INFO_GPA from vm->seed,
 * vm->boot_flags and vm->cmdline.  Returns its address in RAM. */
struct cowvmm_boot_info *boot_write_info(struct vm *vm);

/* ---- run.c / hypercall.c: the run loop and its two tables ---------------- */
/* Run until the guest ends; the enum vmm_exit status, after printing whatever
 * explains it. */
int vm_run(struct vm *vm);
/* Start vCPU v's thread (its registers are set): 0 or -errno. */
int vcpu_start_thread(struct vcpu *v);
/* Handle hypercall `nr` (argument at guest-physical `gpa`) from vCPU v. */
int hypercall_dispatch(struct vcpu *v, unsigned nr, uint64_t gpa);
/* Register the handler of hypercall nr (a module, at setup).  Registering a
 * hypercall twice, or one the ABI does not know, is a VMM bug: abort().
 * vm_hypercall_stops_world(): the handler reads guest memory that other
 * vCPUs could change (an audit): they are parked while it runs. */
void vm_register_hypercall(struct vm *vm, unsigned nr, size_t arg_size, vm_hypercall_fn fn);
void vm_hypercall_stops_world(struct vm *vm, unsigned nr);
/* Register the handler of KVM exit `reason` (< VMM_MAX_EXIT_REASON); same rules. */
void vm_register_exit(struct vm *vm, uint32_t reason, vm_exit_fn fn);
/* The core's own hypercalls: CONSOLE, EXIT, ASSERT, CRASH (lifecycle.c),
 * CPU_START (cpu_start.c). */
void lifecycle_register(struct vm *vm);
void cpu_start_register(struct vm *vm);

/* ---- watchdog.c ---------------------------------------------------------- */
/* Start a thread that, after vm->timeout_s (0 = never), sets wd_fired and
 * kicks every vCPU out of KVM_RUN (again every 100 ms until a vCPU reports
 * the timeout); watchdog_fired() tells a run loop why KVM_RUN returned
 * EINTR.  The watchdog bounds the whole run, the VMM's own work included:
 * WD_GRACE_S after the deadline, a run still not over (an audit, a report
 * of a hostile guest's tables...) ends the process with VMM_EXIT_TIMEOUT and
 * a line naming what vm->busy says it was doing. */
#define WD_GRACE_S 2
void watchdog_start(struct vm *vm);
/* Say what VMM-side work runs now (a string that lives for the whole run),
 * NULL when done. */
static inline void vm_busy(struct vm *vm, const char *what)
{
	atomic_store(&vm->busy, what);
}
bool watchdog_fired(const struct vm *vm);
void watchdog_stop(struct vm *vm);
/* Get a vCPU out of KVM_RUN soon (immediate_exit + a signal to its thread). */
void vcpu_kick(struct vcpu *v);

/* ---- module.c: modules ---------------------------------------------------- */
/* A command-line option of a module: `id` comes back to the module's
 * option() callback with the argument (NULL for no_argument). */
struct vmm_option {
	const char *name;        /* long name, without "--"; NULL ends the list */
	bool has_arg;
	int id;
};

/* A feature.  Every callback may be NULL.  Modules run in `order` (lower
 * first): their --help sections, setup, and finish reports come out in it. */
struct vmm_module {
	const char *name;
	int order;
	size_t state_size;                 /* zeroed per-run state, vm_state() */
	const struct vmm_option *options;
	void (*usage)(FILE *f);            /* its --help section */
	/* One of its options: 0, or VMM_EXIT_USAGE after a message. */
	int (*option)(struct vm *vm, int id, const char *arg);
	/* After the command line, before the kernel is loaded: VMM_CONTINUE, or a
	 * status that ends the run at once (--probe). */
	int (*start)(struct vm *vm);
	/* KVM and vCPUs exist, memory is booted; register hypercalls and exit
	 * handlers, add boot flags, set a default program.  0 or a status. */
	int (*setup)(struct vm *vm);
	/* The boot info is written (its address): last changes before the first
	 * instruction.  0 or a status. */
	int (*boot)(struct vm *vm, struct cowvmm_boot_info *bi);
	/* After every KVM_RUN, before the exit is handled. */
	void (*on_exit)(struct vcpu *v);
	/* After the run: report; returns the run's (possibly new) status. */
	int (*finish)(struct vm *vm, int status);
	/* Free the state; also after an early end (setup failed). */
	void (*teardown)(struct vm *vm);
};

/* Put a module into the registry (a linker set: the core never names it). */
#define VMM_MODULE(m) \
	static const struct vmm_module *const vmm_module_ptr_##m \
	__attribute__((section("vmm_modules"), used, aligned(sizeof(void *)))) = &(m)

/* Fill vm->mods from the registry, sorted by order, and allocate each one's
 * zeroed state: 0, or -ENOMEM (nothing left allocated).  vm_modules_free()
 * runs every module's teardown, then frees the states. */
int vm_modules_init(struct vm *vm);
void vm_modules_free(struct vm *vm);
/* A module's per-run state in this VM (NULL if the module is not registered). */
void *vm_state(const struct vm *vm, const struct vmm_module *m);

#endif /* COWVMM_VMM_H */
