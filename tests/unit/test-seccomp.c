/* tests/unit/test-seccomp.c — the sandbox without KVM: the seccomp filter (per case a child puts it in force for a VM whose descriptors are /dev/null and makes one call: allowed calls return, forbidden ones die of SIGSYS) and the file helper's allow-list (TAP). */
#define _GNU_SOURCE /* CLONE_VM */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "sandbox.h"
#include "tap.h"
#include "vmm.h"

/* The descriptors the filter is built for, and one it is not. */
struct fds {
	int vcpu, vm, other;
};

static void *thread_fn(void *arg)
{
	return arg;
}

/* On a thread created after the filter: it inherits it. */
static void *thread_open(void *arg)
{
	(void)open("/dev/null", O_WRONLY);
	return arg;
}

enum call {
	C_WRITE, C_KVM_RUN, C_GET_DIRTY_LOG, C_THREAD, C_MMAP_RW, C_QSORT,
	C_VM_IOCTL_ON_VCPU, C_CREATE_VCPU, C_KVM_RUN_OTHER_FD, C_OPEN_WRITE, C_OPEN_READ, C_FORK, C_CLONE_VM,
	C_EXEC, C_SOCKET, C_MMAP_EXEC, C_MPROTECT_EXEC, C_KILL_PARENT, C_THREAD_OPEN,
	C_USE_AFTER_FREE, C_LEAK,
};

static int cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

static int clone_fn(void *arg)
{
	(void)arg;
	return 0;
}

/* One call; returning means the filter let it through. */
static void make_call(enum call c, const struct fds *f)
{
	static char stack[16384] __attribute__((aligned(16)));
	pthread_t t;
	void *p;
	switch (c) {
	case C_WRITE:
		if (write(2, "", 0) < 0)
			_exit(3);
		break;
	case C_KVM_RUN: /* /dev/null answers ENOTTY: the filter passed it on */
		(void)ioctl(f->vcpu, KVM_RUN, 0);
		break;
	case C_GET_DIRTY_LOG:
		(void)ioctl(f->vm, KVM_GET_DIRTY_LOG, 0);
		break;
	case C_THREAD: /* clone3 answers ENOSYS, glibc falls back to clone */
		if (pthread_create(&t, NULL, thread_fn, NULL) || pthread_join(t, NULL))
			_exit(3);
		break;
	case C_MMAP_RW:
		p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || munmap(p, 1 << 20))
			_exit(3);
		break;
	case C_QSORT: { /* glibc may ask for the machine's memory (sysinfo) */
		size_t n = 1 << 20;
		int *a = malloc(n * sizeof *a);
		if (!a)
			_exit(3);
		for (size_t i = 0; i < n; i++)
			a[i] = (int)(n - i);
		qsort(a, n, sizeof *a, cmp);
		free(a);
		break;
	}
	case C_VM_IOCTL_ON_VCPU:
		(void)ioctl(f->vcpu, KVM_GET_DIRTY_LOG, 0);
		break;
	case C_CREATE_VCPU:
		(void)ioctl(f->vm, KVM_CREATE_VCPU, 1);
		break;
	case C_KVM_RUN_OTHER_FD:
		(void)ioctl(f->other, KVM_RUN, 0);
		break;
	case C_OPEN_WRITE:
		(void)open("/dev/null", O_WRONLY);
		break;
	case C_OPEN_READ:
		(void)open("/dev/null", O_RDONLY);
		break;
	case C_FORK:
		if (fork() == 0)
			_exit(0);
		break;
	case C_CLONE_VM: /* a task sharing our memory, not a thread (what LSan's tracer is) */
		(void)clone(clone_fn, stack + sizeof stack, CLONE_VM | SIGCHLD, NULL);
		break;
	case C_EXEC:
		execl("/bin/true", "true", (char *)NULL);
		break;
	case C_SOCKET:
		(void)socket(AF_INET, SOCK_STREAM, 0);
		break;
	case C_MMAP_EXEC:
		(void)mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case C_MPROTECT_EXEC:
		p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		(void)mprotect(p, 4096, PROT_READ | PROT_EXEC);
		break;
	case C_KILL_PARENT:
		(void)kill(getppid(), 0);
		break;
	case C_THREAD_OPEN:
		if (pthread_create(&t, NULL, thread_open, NULL) == 0)
			pthread_join(t, NULL);
		break;
	case C_USE_AFTER_FREE: { /* a bug for the sanitizers to report */
		char *volatile q = malloc(8);
		free(q);
		*(volatile char *)q = 1;
		break;
	}
	case C_LEAK: {
		void *volatile leak = malloc(100);
		leak = NULL; /* no copy left for the leak check to find */
		(void)leak;
		break;
	}
	}
}

/* The child's end: exit(0) after the call (the sanitizer builds' leak check
 * runs at exit, under the filter too), 2 if the filter could not be put in
 * force; the parent gets the wait status.  The child's stderr goes to
 * child_err (a sanitizer's report). */
static char child_err[] = "/tmp/test-seccomp-err.XXXXXX";

static int in_child(enum call c)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int e = open(child_err, O_WRONLY | O_TRUNC);
		if (e >= 0)
			dup2(e, 2);
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core); /* SIGSYS dumps core */
		struct fds f = { open("/dev/null", O_RDWR), open("/dev/null", O_RDWR), open("/dev/null", O_RDWR) };
		struct vm vm;
		memset(&vm, 0, sizeof vm);
		vm.quiet = true;
		vm.kvm_fd = -1;
		vm.vm_fd = f.vm;
		vm.nvcpus = 1;
		vm.vcpus[0] = (struct vcpu){ .vm = &vm, .fd = f.vcpu, .stats_fd = -1 };
		if (vm_modules_init(&vm) || sandbox_confine(&vm) || !sandbox_loaded(&vm))
			_exit(2);
		make_call(c, &f);
		exit(0);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static bool exited0(int st)
{
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool sigsys(int st)
{
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
}

static const char *how(int st, char *buf, size_t n)
{
	if (WIFSIGNALED(st))
		snprintf(buf, n, "signal %d", WTERMSIG(st));
	else
		snprintf(buf, n, "exit %d", WEXITSTATUS(st));
	return buf;
}

#define ALLOWED(c, what)                                                                   \
	do {                                                                               \
		char b_[32];                                                               \
		int st_ = in_child(c);                                                     \
		ok(exited0(st_), "allowed: %s (%s)", what, how(st_, b_, sizeof b_));       \
	} while (0)
#define KILLED(c, what)                                                                    \
	do {                                                                               \
		char b_[32];                                                               \
		int st_ = in_child(c);                                                     \
		ok(sigsys(st_), "killed by SIGSYS: %s (%s)", what, how(st_, b_, sizeof b_)); \
	} while (0)

/* ---- the file helper: what it writes, and what it refuses ---------------------- */

static bool file_is(const char *path, const char *want)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	return f && !strcmp(buf, want);
}

#ifdef __SANITIZE_ADDRESS__
static bool file_has(const char *path, const char *what)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = 0;
	return strstr(buf, what) != NULL;
}
#endif

/* A raw request, as a VMM taken over by its guest could send: the reply. */
static int32_t raw(struct outfiles *o, uint32_t op, uint32_t idx, const char *name, const char *data)
{
	struct out_req q = { .op = op, .idx = idx, .namelen = (uint32_t)strlen(name), .len = strlen(data) };
	int32_t reply = 1;
	if (write(o->fd, &q, sizeof q) != sizeof q || write(o->fd, name, q.namelen) != (ssize_t)q.namelen ||
	    write(o->fd, data, q.len) != (ssize_t)q.len || read(o->fd, &reply, sizeof reply) != sizeof reply)
		return 1;
	return reply;
}

static void test_helper(void)
{
	char dir[] = "/tmp/test-seccomp.XXXXXX", file[128], pics[128], path[160];
	if (!mkdtemp(dir)) {
		ok(0, "temporary directory");
		return;
	}
	snprintf(file, sizeof file, "%s/r.json", dir);
	snprintf(pics, sizeof pics, "%s/pics", dir);
	struct outfiles o;
	memset(&o, 0, sizeof o);
	ok(out_allow(&o, file, OUT_FILE) == 0 && out_allow(&o, pics, OUT_DIR) == 0 && out_allow(&o, file, OUT_FILE) == 0 &&
	   o.n == 2, "a file and a directory registered (the same path twice is one entry)");
	ok(out_helper_start(&o) == 0 && o.helper, "the helper started");
	struct outfile w;
	FILE *f = out_open(&w, &o, file, NULL);
	if (f)
		fputs("{}\n", f);
	ok(f && out_close(&w) == 0 && file_is(file, "{}\n"), "a registered file: written by the helper");
	ok(out_mkdir(&o, pics, 0755) == 0 && out_mkdir(&o, pics, 0755) == -EEXIST, "its directory made (EEXIST the second time)");
	f = out_open(&w, &o, pics, "a.dot");
	if (f)
		fputs("digraph { a -> b }\n", f);
	snprintf(path, sizeof path, "%s/a.dot", pics);
	ok(f && out_close(&w) == 0 && file_is(path, "digraph { a -> b }\n"), "a plain name in a registered directory: written");
	snprintf(path, sizeof path, "%s/a.svg", pics);
	ok(out_dot(&o, pics, "a") == 0, "dot run by the helper (or quietly not, without Graphviz)");
	errno = 0;
	ok(!out_open(&w, &o, dir, "x") && errno == EPERM, "a directory not registered: refused here");
	errno = 0;
	ok(!out_open(&w, &o, pics, "../x") && errno == EINVAL, "a name with a slash: refused here");
	/* The helper checks again: what a VMM that skips out_open() could ask. */
	snprintf(path, sizeof path, "%s/evil", dir);
	ok(raw(&o, OUT_OP_WRITE, 1, "../evil", "x") == -EPERM && access(path, F_OK) != 0,
	   "helper: ../evil in a registered directory refused, nothing written");
	ok(raw(&o, OUT_OP_WRITE, 0, "evil", "x") == -EPERM && raw(&o, OUT_OP_WRITE, 2, "", "x") == -EPERM &&
	   raw(&o, OUT_OP_WRITE, 99, "", "x") == -EPERM && raw(&o, OUT_OP_MKDIR, 0, "", "") == -EPERM &&
	   raw(&o, OUT_OP_WRITE, 1, "", "x") == -EPERM && raw(&o, OUT_OP_DOT, 1, ".x", "") == -EPERM,
	   "helper: a name under a file, unknown entries, mkdir of a file, a directory written whole, a hidden name: refused");
	ok(raw(&o, OUT_OP_WRITE, 1, "b.svg", "<svg/>") == 0, "helper: still serving after refusals");
	ok(raw(&o, 77, 0, "", "") == 1, "helper: an unknown request ends it (no reply)");
	out_helper_stop(&o);
	ok(!o.helper, "helper reaped");
}

int main(void)
{
	int e = mkstemp(child_err);
	if (e < 0) {
		printf("Bail out! mkstemp\n");
		return 1;
	}
	close(e);
	test_helper();
	/* What a run does. */
	ALLOWED(C_WRITE, "write to stderr");
	ALLOWED(C_KVM_RUN, "KVM_RUN on the vCPU's descriptor");
	ALLOWED(C_GET_DIRTY_LOG, "KVM_GET_DIRTY_LOG on the VM's descriptor");
	ALLOWED(C_THREAD, "a thread (a vCPU started by the guest), joined");
	ALLOWED(C_MMAP_RW, "anonymous read-write memory");
	ALLOWED(C_QSORT, "qsort of 4 MiB (the bench report's samples)");
	/* What a VMM taken over by its guest would try. */
	KILLED(C_VM_IOCTL_ON_VCPU, "a VM ioctl on a vCPU's descriptor");
	KILLED(C_CREATE_VCPU, "KVM_CREATE_VCPU (no ioctl of setup after the filter)");
	KILLED(C_KVM_RUN_OTHER_FD, "KVM_RUN on a descriptor that is not the VM's");
	KILLED(C_OPEN_WRITE, "open for writing");
	KILLED(C_FORK, "fork");
	KILLED(C_EXEC, "execve");
	KILLED(C_SOCKET, "socket");
	KILLED(C_MMAP_EXEC, "executable mmap");
	KILLED(C_MPROTECT_EXEC, "mprotect to executable");
	KILLED(C_KILL_PARENT, "a signal to another process");
	KILLED(C_THREAD_OPEN, "open for writing on a thread created after the filter (threads inherit it)");
#ifdef __SANITIZE_ADDRESS__
	/* The sanitizer runtimes' own needs (LeakSanitizer's tracer and scan). */
	ALLOWED(C_OPEN_READ, "open read-only (sanitizer build: LeakSanitizer reads /proc)");
	ALLOWED(C_CLONE_VM, "clone(CLONE_VM) (sanitizer build: LeakSanitizer's tracer)");
	/* What the build is for: a bug found under the filter is reported,
	 * symbolized, not drowned in a SIGSYS. */
	int st = in_child(C_USE_AFTER_FREE);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 1 && file_has(child_err, "heap-use-after-free") &&
	   file_has(child_err, "make_call"), "sanitizer build: a use after free under the filter is reported, symbolized");
	st = in_child(C_LEAK);
	ok(WIFEXITED(st) && WEXITSTATUS(st) != 0 && file_has(child_err, "detected memory leaks") &&
	   file_has(child_err, "make_call"), "sanitizer build: a leak under the filter is reported at exit, symbolized");
#else
	KILLED(C_OPEN_READ, "open read-only");
	KILLED(C_CLONE_VM, "clone(CLONE_VM) without CLONE_THREAD");
#endif
	unlink(child_err);
	return tap_done();
}
