/* vmm/sandbox.c — the sandbox module: once the VM is set up, the VMM confines itself with a seccomp filter to the system calls (and KVM ioctls) a run needs; --no-seccomp. */
#define _GNU_SOURCE /* CLONE_THREAD, AT_EMPTY_PATH */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "outfile.h"
#include "sandbox.h"
#include "vmm.h"

/*
 * Why: the guest is hostile, and the VMM parses what it writes.  A bug that
 * hands the guest the VMM's process would hand it everything the user may
 * do.  Behind the filter, that process can only go on running this VM: no
 * file can be opened, no program run, no socket made, no process created,
 * no memory made executable, and only the KVM ioctls of a running VM on the
 * VM's own descriptors.  What a run needs beyond that is done before
 * (KVM setup, the kernel image, --bench-peer, the vCPUs' statistics) or by
 * the file helper (outfile.h), forked at `start` while the VMM still holds
 * nothing of the guest.
 *
 * When: the `boot` stage of the last module (order 90), after every other
 * module's setup and boot and right before watchdog_start() and vm_run().
 * vCPU threads (HC_CPU_START) and the watchdog are created later and inherit
 * the filter; TSYNC puts any thread that exists already under it too.
 *
 * What happens to anything else: SCMP_ACT_KILL_PROCESS.  The kernel ends the
 * whole VMM with SIGSYS (a shell says status 159) before the call does
 * anything, and no code of the (perhaps taken-over) process runs after it.
 * SCMP_ACT_TRAP with a handler printing the call's name was the other
 * choice: but that handler is code of the process the filter distrusts,
 * rt_sigaction stays allowed (the kick), and a replaced handler would turn
 * every refused call into a mere error to try the next one after.  To see
 * which call it was: `strace -f` the run (its last line before "killed by
 * SIGSYS"), or the kernel log (audit type=1326, syscall=N).  README's
 * "Security model" and doc/HACKING.md (recipe f) say how to add a call.
 *
 * The allow-list was found by measurement, not guessed: strace -f of every
 * kind of run (hostile kernel directly, the real guest under tools/kvm-run:
 * demo, audits on 1 to 4 vCPUs, --report, --bench*, --dot, --dump-pt,
 * --inject, --mutate, crashes, the watchdog), plain and sanitizer builds,
 * and for what strace cannot follow (LeakSanitizer's CLONE_UNTRACED
 * tracer) the kernel's log of the same filter logging instead of killing.
 * Each group below says whom it serves.
 */

struct sandbox_state {
	bool off;              /* --no-seccomp */
	bool loaded;           /* the filter is in force */
	bool test;             /* --seccomp-test CPU */
	unsigned test_cpu;
	atomic_bool tested;
};

static const struct vmm_module sandbox_module;

static struct sandbox_state *st(const struct vm *vm)
{
	return vm_state(vm, &sandbox_module);
}

/* Every ioctl a running VM makes on a vCPU's descriptor, and on the VM's. */
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN,                                    /* the run loop */
	KVM_GET_REGS, KVM_SET_REGS,                 /* register cache, HC_CPU_START, crash dumps */
	KVM_GET_SREGS, KVM_SET_SREGS,               /* CR3 at checkpoints, HC_CPU_START, --inject */
	KVM_TRANSLATE,                              /* the walker's cross-check, dump_code */
	KVM_SET_MP_STATE,                           /* HC_CPU_START: an AP made runnable */
	KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS,   /* --inject exc: a #PF delivered */
	KVM_SET_GUEST_DEBUG,                        /* --inject exc: single-stepping into user mode */
	KVM_SET_MSRS,                               /* --mutate dirty-old: KVM writes guest RAM */
};
static const unsigned long vm_ioctls[] = {
	KVM_SET_USER_MEMORY_REGION, /* dirty logging switched on at the first audit (slot 0's flags) */
	KVM_GET_DIRTY_LOG,          /* the dirty log, at a COW fault's end */
};

/* One rule; libseccomp's errors are -errno. */
#define RULE(ctx, act, sys, ...)                                                             \
	do {                                                                                 \
		int r_ = seccomp_rule_add((ctx), (act), SCMP_SYS(sys), __VA_ARGS__);         \
		if (r_ < 0)                                                                  \
			return fail(#sys, r_);                                               \
	} while (0)

static int fail(const char *what, int r)
{
	fprintf(stderr, "vmm: seccomp: cannot add the rule for %s: %s\n", what, strerror(-r));
	return r;
}

static int ioctl_rules(scmp_filter_ctx ctx, int fd, const unsigned long *req, size_t n)
{
	for (size_t i = 0; i < n; i++)
		/* The kernel reads both as 32-bit (unsigned int fd, unsigned int
		 * cmd): compare what it will see. */
		RULE(ctx, SCMP_ACT_ALLOW, ioctl, 2, SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)fd),
		     SCMP_A1_32(SCMP_CMP_EQ, (uint32_t)req[i]));
	return 0;
}

static int add_rules(const struct vm *vm, scmp_filter_ctx ctx)
{
	/* Memory: malloc (brk, mmap), realloc of big buffers (mremap: an
	 * audit's per-page vectors), thread stacks and their guard pages;
	 * never executable memory. */
	RULE(ctx, SCMP_ACT_ALLOW, mmap, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	RULE(ctx, SCMP_ACT_ALLOW, mprotect, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	RULE(ctx, SCMP_ACT_ALLOW, munmap, 0);
	RULE(ctx, SCMP_ACT_ALLOW, mremap, 0);
	RULE(ctx, SCMP_ACT_ALLOW, brk, 0);
	RULE(ctx, SCMP_ACT_ALLOW, madvise, 0);

	/* Threads: vCPUs started by the guest (HC_CPU_START) and the watchdog.
	 * clone3 passes its flags in memory a filter cannot read: it answers
	 * ENOSYS, and glibc falls back to clone, whose flags must make a thread
	 * (no new process after the filter). */
	RULE(ctx, SCMP_ACT_ERRNO(ENOSYS), clone3, 0);
	RULE(ctx, SCMP_ACT_ALLOW, clone, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	RULE(ctx, SCMP_ACT_ALLOW, set_robust_list, 0);
	RULE(ctx, SCMP_ACT_ALLOW, rseq, 0);
	RULE(ctx, SCMP_ACT_ALLOW, futex, 0);
	RULE(ctx, SCMP_ACT_ALLOW, exit, 0);

	/* Signals: the kick that gets a vCPU out of KVM_RUN (installed by
	 * watchdog_start(), sent with pthread_kill() to a thread of ours). */
	RULE(ctx, SCMP_ACT_ALLOW, rt_sigaction, 0);
	RULE(ctx, SCMP_ACT_ALLOW, rt_sigprocmask, 0);
	RULE(ctx, SCMP_ACT_ALLOW, rt_sigreturn, 0);
	RULE(ctx, SCMP_ACT_ALLOW, tgkill, 1, SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)getpid()));
	RULE(ctx, SCMP_ACT_ALLOW, getpid, 0);
	RULE(ctx, SCMP_ACT_ALLOW, gettid, 0);

	/* Time: the watchdog, audit timings, the world's re-kicks.  The vDSO
	 * answers without a system call, unless the clocksource cannot be
	 * read from user space (some VMs'): then it makes this one. */
	RULE(ctx, SCMP_ACT_ALLOW, clock_gettime, 0);

	/* glibc's qsort() asks how much memory the machine has (sysinfo)
	 * before it sorts a large array: the bench report's samples. */
	RULE(ctx, SCMP_ACT_ALLOW, sysinfo, 0);

	/* Descriptors already open: console and messages (stdout, stderr),
	 * the vCPUs' statistics (pread), the file helper's socket; stdio's
	 * first look at stdout (fstat, made as newfstatat(1, "",
	 * AT_EMPTY_PATH): a filter cannot read the path, so this also lets a
	 * path be stat'ed -- its metadata, never its contents); closing
	 * everything at the end. */
	RULE(ctx, SCMP_ACT_ALLOW, read, 0);
	RULE(ctx, SCMP_ACT_ALLOW, write, 0);
	RULE(ctx, SCMP_ACT_ALLOW, pread64, 0);
	RULE(ctx, SCMP_ACT_ALLOW, newfstatat, 1, SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
	RULE(ctx, SCMP_ACT_ALLOW, close, 0);

	/* The end: the file helper reaped, the process gone. */
	RULE(ctx, SCMP_ACT_ALLOW, wait4, 0);
	RULE(ctx, SCMP_ACT_ALLOW, exit_group, 0);

#ifdef __SANITIZE_ADDRESS__
	/* --enable-sanitizers (CI's build) only: what the ASan/LSan runtime
	 * does after the filter.  Each new thread finds its stack and sets up
	 * an alternate signal stack; at exit LeakSanitizer stops the world: a
	 * tracer task (clone with CLONE_VM, no CLONE_THREAD) lists our threads
	 * in /proc/self/task and ptrace-attaches each, while we wait for it;
	 * then the leak scan reads /proc/self/maps.  Files are opened read-only
	 * (still no file written, nothing run: exec, sockets, fork stay
	 * forbidden). */
	RULE(ctx, SCMP_ACT_ALLOW, clone, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_VM, CLONE_VM));
	RULE(ctx, SCMP_ACT_ALLOW, sched_getaffinity, 0);
	RULE(ctx, SCMP_ACT_ALLOW, sigaltstack, 0);
	RULE(ctx, SCMP_ACT_ALLOW, sched_yield, 0);
	RULE(ctx, SCMP_ACT_ALLOW, prctl, 0);
	RULE(ctx, SCMP_ACT_ALLOW, getppid, 0);
	RULE(ctx, SCMP_ACT_ALLOW, ptrace, 0);
	RULE(ctx, SCMP_ACT_ALLOW, open, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT, O_RDONLY));
	RULE(ctx, SCMP_ACT_ALLOW, openat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT, O_RDONLY));
	RULE(ctx, SCMP_ACT_ALLOW, getdents, 0);
	RULE(ctx, SCMP_ACT_ALLOW, getdents64, 0);
	RULE(ctx, SCMP_ACT_ALLOW, lseek, 0);
	/* A sanitizer report (the point of the build: it must come out, not a
	 * SIGSYS): the binary's name, the symbolizer (libbacktrace, in
	 * process) reading it, and a pipe to test whether memory shown in the
	 * report is readable. */
	RULE(ctx, SCMP_ACT_ALLOW, readlink, 0);
	RULE(ctx, SCMP_ACT_ALLOW, newfstatat, 0);
	RULE(ctx, SCMP_ACT_ALLOW, fcntl, 0);
	RULE(ctx, SCMP_ACT_ALLOW, pipe2, 0);
#endif

	/* KVM, on this VM's descriptors only; stdio's isatty() of stdout
	 * (TCGETS), and the sanitizers' of stderr. */
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		int r = ioctl_rules(ctx, vm->vcpus[i].fd, vcpu_ioctls, sizeof vcpu_ioctls / sizeof vcpu_ioctls[0]);
		if (r)
			return r;
	}
	int r = ioctl_rules(ctx, vm->vm_fd, vm_ioctls, sizeof vm_ioctls / sizeof vm_ioctls[0]);
	for (int fd = 1; !r && fd <= 2; fd++)
		r = ioctl_rules(ctx, fd, (const unsigned long[]){ TCGETS }, 1);
	return r;
}

int sandbox_confine(struct vm *vm)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		fprintf(stderr, "vmm: seccomp: cannot start a filter (--no-seccomp runs without one)\n");
		return VMM_EXIT_NO_KVM;
	}
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (!r)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!r)
		r = add_rules(vm, ctx);
	if (!r) {
		r = seccomp_load(ctx);
		if (r)
			fprintf(stderr, "vmm: seccomp: cannot load the filter: %s (--no-seccomp runs without one)\n",
				strerror(-r));
	}
	seccomp_release(ctx);
	if (r)
		return VMM_EXIT_NO_KVM;
	struct sandbox_state *s = st(vm);
	if (s)
		s->loaded = true;
	return 0;
}

/* ---- the module ---------------------------------------------------------------- */

enum { O_OFF, O_TEST };

static const struct vmm_option sandbox_options[] = {
	{ "no-seccomp", false, O_OFF },
	{ "seccomp-test", true, O_TEST },
	{ NULL, false, 0 },
};

static int sandbox_option(struct vm *vm, int id, const char *arg)
{
	struct sandbox_state *s = st(vm);
	if (id == O_OFF) {
		s->off = true;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long cpu = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || *arg == '-' || cpu >= COWVMM_MAX_CPUS) {
		fprintf(stderr, "vmm: invalid --seccomp-test CPU '%s' (0..%u)\nTry 'vmm --help'.\n", arg,
			COWVMM_MAX_CPUS - 1);
		return VMM_EXIT_USAGE;
	}
	s->test = true;
	s->test_cpu = (unsigned)cpu;
	return 0;
}

static void sandbox_usage(FILE *f)
{
	fprintf(f,
		"\n"
		"Confinement (seccomp):\n"
		"      --no-seccomp      run without the seccomp filter.  By default, once the\n"
		"                        VM is set up, the VMM may make only the system calls\n"
		"                        and KVM ioctls a run needs; any other call kills it\n"
		"                        with SIGSYS (status 159).  Output files are written\n"
		"                        by a helper process started before the filter\n"
		"      --seccomp-test CPU  testing: vCPU CPU's thread opens /dev/null for writing\n"
		"                        at its first exit to the VMM (if it has one), a call\n"
		"                        the filter forbids: the VMM dies with SIGSYS; with\n"
		"                        --no-seccomp the run goes on\n");
}

/* Before the kernel image and KVM: the file helper, when files are to be
 * written and the filter will forbid opening them. */
static int sandbox_start(struct vm *vm)
{
	if (st(vm)->off || vm->files.n == 0)
		return VMM_CONTINUE;
	int r = out_helper_start(&vm->files);
	if (r) {
		fprintf(stderr, "vmm: seccomp: cannot start the file helper: %s (--no-seccomp runs without it)\n",
			strerror(-r));
		return VMM_EXIT_NO_KVM;
	}
	return VMM_CONTINUE;
}

static int sandbox_boot(struct vm *vm, struct cowvmm_boot_info *bi)
{
	(void)bi;
	return st(vm)->off ? 0 : sandbox_confine(vm);
}

/* --seccomp-test: a call the filter forbids, on the chosen vCPU's thread
 * once the guest runs (threads inherit the filter).  Only at an exit that
 * reaches the VMM: a vCPU whose guest only halts, takes timer ticks and
 * IPIs (all inside KVM) never makes it. */
static void sandbox_on_exit(struct vcpu *v)
{
	struct sandbox_state *s = st(v->vm);
	if (!s->test || v->id != s->test_cpu || atomic_exchange(&s->tested, true))
		return;
	/* Writing a file: forbidden in every build (the sanitizer builds may
	 * open files read-only). */
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	/* Reached only without the filter. */
	fprintf(stderr, "vmm: seccomp test: vcpu %u opened /dev/null for writing (%s): %s\n", v->id,
		fd >= 0 ? "allowed" : strerror(errno), s->loaded ? "THE FILTER LET IT THROUGH" : "no filter");
	if (fd >= 0)
		close(fd);
}

bool sandbox_loaded(const struct vm *vm)
{
	const struct sandbox_state *s = st(vm);
	return s && s->loaded;
}

/* Said at the end, with the run's other facts, not at the start: a run
 * that ends at once because this host's KVM cannot run the guest (status 3)
 * says so in one line, and nothing else (tests/first-run.sh). */
static int sandbox_finish(struct vm *vm, int status)
{
	if (sandbox_loaded(vm) && status != VMM_EXIT_NO_KVM)
		vm_note(vm, "seccomp: filter on (--no-seccomp: off)");
	return status;
}

static void sandbox_teardown(struct vm *vm)
{
	out_helper_stop(&vm->files);
}

static const struct vmm_module sandbox_module = {
	.name = "sandbox",
	.order = 90,
	.state_size = sizeof(struct sandbox_state),
	.options = sandbox_options,
	.usage = sandbox_usage,
	.option = sandbox_option,
	.start = sandbox_start,
	.boot = sandbox_boot,
	.on_exit = sandbox_on_exit,
	.finish = sandbox_finish,
	.teardown = sandbox_teardown,
};
VMM_MODULE(sandbox_module);
