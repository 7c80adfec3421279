/* tests/unit/test-modules.c — the VMM's modules wired together without KVM: registry, options, --help, HC_DESCRIBE + HC_INSPECT through the hypercall table, the report, PTE injection, the bench report, one vCPU and two (TAP). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "books.h"
#include "inject.h"
#include "report.h"
#include "sandbox.h"
#include "simguest.h"
#include "tap.h"
#include "vmm.h"

#define RAM (16ull << 20)
#define ARG_GPA 0x8000ull /* hypercall arguments: below the frames the sim manages */

/* A VM object over the simulated guest's RAM, with every linked module's
 * state and a vCPU that has no KVM behind it (fd -1: any ioctl fails). */
static void vm_over(struct vm *vm, struct sim *s)
{
	memset(vm, 0, sizeof *vm);
	vm->kvm_fd = vm->vm_fd = -1;
	vm->quiet = true;
	vm->console_limit = 1 << 20;
	vm->mem = s->f.m;
	vm->nvcpus = 1;
	vm->vcpus[0] = (struct vcpu){ .vm = vm, .id = 0, .fd = -1, .stats_fd = -1 };
	if (vm_modules_init(vm)) {
		printf("Bail out! vm_modules_init\n");
		exit(1);
	}
}

/* Hand one option to the module that registered it, as main() does. */
static int option(struct vm *vm, const char *name, const char *arg)
{
	for (size_t i = 0; i < vm->nmods; i++)
		for (const struct vmm_option *o = vm->mods[i]->options; o && o->name; o++)
			if (!strcmp(o->name, name))
				return vm->mods[i]->option(vm, o->id, arg);
	return -1;
}

static int setup(struct vm *vm)
{
	lifecycle_register(vm);
	for (size_t i = 0; i < vm->nmods; i++)
		if (vm->mods[i]->setup && vm->mods[i]->setup(vm))
			return -1;
	return 0;
}

static int finish(struct vm *vm, int st)
{
	for (size_t i = 0; i < vm->nmods; i++)
		if (vm->mods[i]->finish)
			st = vm->mods[i]->finish(vm, st);
	return st;
}

/* Put a hypercall argument in guest RAM and dispatch it as the run loop does. */
static int hypercall(struct vm *vm, unsigned nr, const void *arg, size_t n)
{
	memcpy(gmem_ptr(&vm->mem, ARG_GPA, n), arg, n);
	return hypercall_dispatch(&vm->vcpus[0], nr, ARG_GPA);
}

static int inspect(struct vm *vm, uint32_t kind, int32_t pid, int32_t pid2, uint32_t *verdict)
{
	struct cowvmm_hc_inspect c = { .checkpoint = kind, .pid = pid, .pid2 = pid2 };
	int r = hypercall(vm, COWVMM_HC_INSPECT, &c, sizeof c);
	const struct cowvmm_hc_inspect *back = gmem_ptr(&vm->mem, ARG_GPA, sizeof *back);
	*verdict = back->verdict;
	return r;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	static char buf[8 << 20]; /* a report of thousands of processes */
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	buf[n] = 0;
	if (f)
		fclose(f);
	return buf;
}

/* ---- the registry ------------------------------------------------------------ */

static void test_registry(void)
{
	struct sim s;
	struct vm vm;
	scenario(&s, RAM);
	vm_over(&vm, &s);
	/* A static library links the modules a test refers to: all but the probe. */
	static const char *const want[] = { "books", "inject", "inspect", "dirty", "mutate", "ptdump", "dot",
					    "report", "bench", "sandbox" };
	size_t found = 0;
	for (size_t i = 0; i < vm.nmods; i++)
		for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
			found += !strcmp(vm.mods[i]->name, want[k]);
	ok(found == sizeof want / sizeof want[0], "%zu modules registered through the linker set", vm.nmods);
	bool sorted = true, states = true, helpful = true;
	for (size_t i = 0; i < vm.nmods; i++) {
		sorted &= i == 0 || vm.mods[i - 1]->order <= vm.mods[i]->order;
		states &= !vm.mods[i]->state_size || vm_state(&vm, vm.mods[i]) != NULL;
		for (const struct vmm_option *o = vm.mods[i]->options; o && o->name; o++) {
			/* Every option is in its module's --help section. */
			char *text = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&text, &len);
			if (vm.mods[i]->usage)
				vm.mods[i]->usage(f);
			fclose(f);
			char want[64];
			snprintf(want, sizeof want, "--%s", o->name);
			if (!vm.mods[i]->option || !strstr(text, want)) {
				diag("module %s: option %s has no handler or no --help line", vm.mods[i]->name, want);
				helpful = false;
			}
			free(text);
			/* And no two modules claim the same name. */
			for (size_t j = 0; j < vm.nmods; j++)
				for (const struct vmm_option *p = vm.mods[j]->options; p && p->name; p++)
					if (p != o && !strcmp(p->name, o->name)) {
						diag("option --%s registered twice", o->name);
						helpful = false;
					}
		}
	}
	ok(sorted, "modules in their declared order");
	ok(states, "every module with state has it in the VM object");
	ok(helpful, "every module option has a handler, a --help line and a unique name");
	ok(option(&vm, "audit-full-every", "0") == VMM_EXIT_USAGE, "--audit-full-every 0 refused");
	ok(option(&vm, "mutate", "nonsense") == VMM_EXIT_USAGE, "--mutate nonsense refused");
	ok(option(&vm, "dump-pt", "x@fork") == VMM_EXIT_USAGE, "--dump-pt x refused");
	ok(option(&vm, "inject", "alloc:nowhere:nth=1") == VMM_EXIT_USAGE, "--inject with a bad site refused");
	ok(option(&vm, "seccomp-test", "16") == VMM_EXIT_USAGE && option(&vm, "seccomp-test", "x") == VMM_EXIT_USAGE &&
	   option(&vm, "seccomp-test", "1") == 0 && option(&vm, "no-seccomp", NULL) == 0,
	   "--seccomp-test takes a vCPU number 0..15, --no-seccomp no argument");
	ok(!sandbox_loaded(&vm), "options confine nothing (the sandbox's boot stage does)");
	ok(option(&vm, "report", "r.json") == 0 && option(&vm, "dot", "pics") == 0 && option(&vm, "report", "r.json") == 0 &&
	   vm.files.n == 2 && vm.files.e[0].kind == OUT_FILE && vm.files.e[1].kind == OUT_DIR,
	   "--report FILE and --dot DIR registered as output paths, once each");
	vm_modules_free(&vm);
	sim_free(&s);
}

/* ---- HC_DESCRIBE + HC_INSPECT + the report ----------------------------------- */

static void test_inspect(void)
{
	struct sim s;
	struct vm vm;
	uint32_t verdict = 0;
	scenario(&s, RAM);
	vm_over(&vm, &s);
	char path[] = "/tmp/test-modules-report.XXXXXX";
	int fd = mkstemp(path);
	ok(fd >= 0, "temporary report file");
	close(fd);
	ok(option(&vm, "report", path) == 0 && option(&vm, "no-dirty-log", NULL) == 0, "--report FILE --no-dirty-log");
	ok(setup(&vm) == 0 && (vm.boot_flags & COWVMM_BOOT_F_AUDIT), "setup: audits by default");
	ok(inspect(&vm, COWVMM_CP_FORK, 1, 2, &verdict) == VMM_EXIT_CRASH,
	   "INSPECT before DESCRIBE is a guest error");
	ok(hypercall(&vm, COWVMM_HC_DESCRIBE, &s.d, sizeof s.d) == VMM_CONTINUE && vm_books(&vm)->valid,
	   "DESCRIBE accepted: the books are known");
	ok(hypercall(&vm, COWVMM_HC_DESCRIBE, &s.d, sizeof s.d) == VMM_EXIT_CRASH, "DESCRIBE twice refused");
	struct guest_proc p;
	uint32_t pslot = 99;
	ok(books_find_pid(vm_books(&vm), 2, &p, &pslot) && pslot == 1 && !strcmp(p.name, "child") &&
	   books_has_mm(p.state, p.cr3), "books: pid 2 is the child in slot 1, with an address space");
	ok(books_refcount(vm_books(&vm), s.d.zero_frame) == *rc(&s, s.d.zero_frame) &&
	   books_refcount(vm_books(&vm), s.nframes) == -1, "books: refcounts read, out of range refused");
	ok(inspect(&vm, COWVMM_CP_FORK, 1, 2, &verdict) == VMM_CONTINUE && verdict == 0,
	   "clean fork checkpoint: the guest goes on, verdict 0");
	/* A kernel bug: the parent's shared data page made writable again. */
	uint64_t *pte = sim_pte(&s, 0, VA_DATA + PG);
	*pte = (*pte | COWVMM_PTE_RW) & ~COWVMM_PTE_COW;
	ok(inspect(&vm, COWVMM_CP_USER, 1, 0, &verdict) == VMM_EXIT_GUEST_FAIL && verdict > 0,
	   "shared writable page: the run ends with status 1, verdict %u", verdict);
	ok(finish(&vm, VMM_EXIT_GUEST_FAIL) == VMM_EXIT_GUEST_FAIL, "finish keeps the status");
	const char *json = slurp(path);
	ok(strstr(json, "\"schema\": \"cowvmm-report\"") && strstr(json, "\"total\": 2") &&
	   strstr(json, "\"kind\": \"shared-writable\"") && strstr(json, "\"state\": \"off\"") &&
	   strstr(json, "\"reason\": \"--no-dirty-log\"") && strstr(json, "\"cpus\": 1") &&
	   strstr(json, "\"vcpu\": 0") && strstr(json, "\"by_vcpu\": [0]"),
	   "the JSON report has both checkpoints (and their vCPU), the violation, the dirty log's state, the CPUs");
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	report_text(&vm, f, VMM_EXIT_GUEST_FAIL);
	fclose(f);
	ok(strstr(text, "2 checkpoint(s) audited") && strstr(text, "1 violation(s)") &&
	   strstr(text, "hypercalls:") && strstr(text, "status 1 (guest-failure)"),
	   "the text summary counts checkpoints, violations and the status");
	free(text);
	unlink(path);
	vm_modules_free(&vm);

	/* --audit-continue: counted, not fatal. */
	vm_over(&vm, &s);
	ok(option(&vm, "audit-continue", NULL) == 0 && option(&vm, "no-dirty-log", NULL) == 0 && setup(&vm) == 0 &&
	   hypercall(&vm, COWVMM_HC_DESCRIBE, &s.d, sizeof s.d) == VMM_CONTINUE, "--audit-continue run set up");
	ok(inspect(&vm, COWVMM_CP_USER, 1, 0, &verdict) == VMM_CONTINUE && verdict > 0,
	   "--audit-continue: the guest goes on, verdict %u", verdict);
	ok(finish(&vm, VMM_EXIT_OK) == VMM_EXIT_GUEST_FAIL,
	   "--audit-continue: a guest that exits 0 after violations still makes the run fail");
	vm_modules_free(&vm);

	/* Every stopped vCPU's CR3 must belong to the kernel or a live process. */
	vm_over(&vm, &s);
	ok(option(&vm, "no-dirty-log", NULL) == 0 && setup(&vm) == 0 &&
	   hypercall(&vm, COWVMM_HC_DESCRIBE, &s.d, sizeof s.d) == VMM_CONTINUE, "CR3 checks set up");
	*pte = (*pte & ~COWVMM_PTE_RW) | COWVMM_PTE_COW; /* the earlier breakage undone */
	vm.vcpus[0].started = vm.vcpus[0].have_sregs = true;
	vm.vcpus[0].sregs.cr3 = s.root[1];
	ok(inspect(&vm, COWVMM_CP_USER, 2, 0, &verdict) == VMM_CONTINUE && verdict == 0,
	   "the vCPU runs on the child's page tables: clean");
	vm.vcpus[0].sregs.cr3 = s.d.kernel_pml4_gpa;
	ok(inspect(&vm, COWVMM_CP_USER, 2, 0, &verdict) == VMM_CONTINUE && verdict == 0,
	   "the vCPU runs on the kernel's page tables: clean");
	/* The guest says pid 1 runs; the vCPU is on the child's tables. */
	uint32_t running = COWVMM_PSTATE_RUNNING, runnable = COWVMM_PSTATE_RUNNABLE;
	memcpy(slot(&s, 0) + 8, &running, 4);
	ok(inspect(&vm, COWVMM_CP_USER, 1, 0, &verdict) == VMM_EXIT_GUEST_FAIL && verdict == 1,
	   "pid 1 RUNNING while no vCPU is on its tables: a cpu-cr3 violation (verdict %u)", verdict);
	vm.vcpus[0].sregs.cr3 = s.root[0];
	ok(inspect(&vm, COWVMM_CP_USER, 1, 0, &verdict) == VMM_CONTINUE && verdict == 0,
	   "pid 1 RUNNING on the vCPU's tables: clean");
	memcpy(slot(&s, 0) + 8, &runnable, 4);
	vm.vcpus[0].sregs.cr3 = (s.nframes - 1) * PG; /* a free frame: the tables of a released mm */
	ok(*rc(&s, s.nframes - 1) == 0 && inspect(&vm, COWVMM_CP_USER, 2, 0, &verdict) == VMM_EXIT_GUEST_FAIL &&
	   verdict == 1,
	   "a vCPU on page tables nobody owns: a cpu-cr3 violation (verdict %u)", verdict);
	vm_modules_free(&vm);

	/* A guest that makes pid after pid: the report keeps 4,096 and says so,
	 * and a checkpoint stays cheap (a hash, not a scan of every pid seen). */
	vm_over(&vm, &s);
	char rpath[] = "/tmp/test-modules-report.XXXXXX";
	int rfd = mkstemp(rpath);
	close(rfd);
	ok(option(&vm, "report", rpath) == 0 && option(&vm, "no-dirty-log", NULL) == 0 && setup(&vm) == 0 &&
	   hypercall(&vm, COWVMM_HC_DESCRIBE, &s.d, sizeof s.d) == VMM_CONTINUE, "many pids: set up");
	bool all_clean = true;
	for (int32_t round = 0; round < 2100; round++) {
		int32_t p0 = 10 + 2 * round, p1 = p0 + 1;
		memcpy(slot(&s, 0), &p0, 4);
		memcpy(slot(&s, 1), &p1, 4);
		memcpy(slot(&s, 1) + 4, &p0, 4); /* ppid */
		memcpy(slot(&s, 0) + TGID_OFF, &p0, 4); /* each its own thread group */
		memcpy(slot(&s, 1) + TGID_OFF, &p1, 4);
		all_clean &= inspect(&vm, COWVMM_CP_USER, p0, 0, &verdict) == VMM_CONTINUE && verdict == 0;
	}
	ok(all_clean, "4,200 pids over 2,100 checkpoints: every audit clean");
	ok(finish(&vm, VMM_EXIT_OK) == VMM_EXIT_OK, "the report written");
	const char *rj = slurp(rpath);
	size_t entries = 0;
	for (const char *q = rj; (q = strstr(q, "{\"pid\": ")); q++)
		entries++;
	ok(strstr(rj, "\"processes_truncated\": true") && entries == 4096,
	   "the report keeps 4,096 processes and says it left some out (%zu entries)", entries);
	unlink(rpath);
	vm_modules_free(&vm);

	/* A timing run does not audit, and says so to a guest that asks anyway. */
	vm_over(&vm, &s);
	ok(option(&vm, "bench", NULL) == 0 && setup(&vm) == 0 && !(vm.boot_flags & COWVMM_BOOT_F_AUDIT) &&
	   (vm.boot_flags & COWVMM_BOOT_F_BENCH) && !strcmp(vm.cmdline, "cowbench"),
	   "--bench: no audit flag, the bench flag, cowbench by default");
	ok(inspect(&vm, COWVMM_CP_USER, 1, 0, &verdict) == VMM_EXIT_CRASH, "INSPECT in a timing run is a guest error");
	vm_modules_free(&vm);
	sim_free(&s);
}

/* ---- hostile strings ------------------------------------------------------------ */

/* A guest's assertion text reaches stderr without escape sequences. */
/* Threads on several vCPUs (cpu-cr3): one group's tables loaded on two
 * vCPUs at once is fine, a ZOMBIE leader without tables leaves them owned
 * by its threads, and every RUNNING thread still needs a vCPU on them. */
static void test_threads_cr3(void)
{
	struct sim s;
	struct vm vm;
	uint32_t verdict = 0;
	scenario(&s, RAM);       /* pid 1 (slot 0) forked pid 2 (slot 1) */
	sim_thread(&s, 2, 3, 0); /* pid 3: a thread of pid 1 */
	vm_over(&vm, &s);
	vm.nvcpus = 2;
	vm.vcpus[1] = (struct vcpu){ .vm = &vm, .id = 1, .fd = -1, .stats_fd = -1 };
	ok(option(&vm, "no-dirty-log", NULL) == 0 && setup(&vm) == 0 &&
	   hypercall(&vm, COWVMM_HC_DESCRIBE, &s.d, sizeof s.d) == VMM_CONTINUE, "threads on two vCPUs: set up");
	uint32_t running = COWVMM_PSTATE_RUNNING, zombie = COWVMM_PSTATE_ZOMBIE;
	uint64_t none = 0;
	memcpy(slot(&s, 0) + 8, &running, 4);
	memcpy(slot(&s, 2) + 8, &running, 4);
	for (int i = 0; i < 2; i++) {
		vm.vcpus[i].started = vm.vcpus[i].have_sregs = true;
		vm.vcpus[i].sregs.cr3 = s.root[0];
	}
	ok(inspect(&vm, COWVMM_CP_USER, 3, 0, &verdict) == VMM_CONTINUE && verdict == 0,
	   "two RUNNING threads of one group, its tables on both vCPUs: clean (verdict %u)", verdict);
	/* The leader exits first: a zombie without tables; thread 3 runs on. */
	memcpy(slot(&s, 0) + 8, &zombie, 4);
	memcpy(slot(&s, 0) + 16, &none, 8);
	vm.vcpus[0].sregs.cr3 = s.d.kernel_pml4_gpa;
	ok(inspect(&vm, COWVMM_CP_USER, 3, 0, &verdict) == VMM_CONTINUE && verdict == 0,
	   "the leader a zombie without tables, its thread RUNNING on vCPU 1: clean (verdict %u)", verdict);
	vm.vcpus[1].sregs.cr3 = s.root[1]; /* the child's tables */
	ok(inspect(&vm, COWVMM_CP_USER, 3, 0, &verdict) == VMM_EXIT_GUEST_FAIL && verdict == 1,
	   "thread 3 RUNNING while no vCPU is on its group's tables: a cpu-cr3 violation (verdict %u)", verdict);
	/* The reports name the thread's group; processes have no tgid field. */
	char path[] = "/tmp/test-modules-report.XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	ok(report_json(&vm, path, VMM_EXIT_GUEST_FAIL) == 0, "threads: report written");
	const char *json = slurp(path);
	ok(strstr(json, "{\"pid\": 3, \"ppid\": 0, \"tgid\": 1, \"name\": \"init\"") &&
	   strstr(json, "{\"pid\": 1, \"ppid\": 0, \"name\": \"init\"") &&
	   strstr(json, "{\"pid\": 2, \"ppid\": 1, \"name\": \"child\""),
	   "threads: JSON gives pid 3 its tgid 1, and pids 1 and 2 none");
	unlink(path);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	report_text(&vm, f, VMM_EXIT_GUEST_FAIL);
	fclose(f);
	ok(strstr(text, "vmm: pid 3 (thread of 1) (init): last seen with 11 pages") &&
	   strstr(text, "vmm: pid 1 (init): last seen with 11 pages"),
	   "threads: the text summary says pid 3 is a thread of 1, with the group's 11 pages");
	free(text);
	vm_modules_free(&vm);
	sim_free(&s);
}

static void test_strings(void)
{
	struct sim s;
	struct vm vm;
	scenario(&s, RAM);
	vm_over(&vm, &s);
	setup(&vm);
	const char file[] = "evil.c", expr[] = "\x1b[2J\x1b]0;pwned\x07 x == 1";
	memcpy(gmem_ptr(&vm.mem, ARG_GPA + 0x100, sizeof file), file, sizeof file);
	memcpy(gmem_ptr(&vm.mem, ARG_GPA + 0x200, sizeof expr), expr, sizeof expr);
	struct cowvmm_hc_assert a = { .file_gpa = ARG_GPA + 0x100, .expr_gpa = ARG_GPA + 0x200, .line = 7 };
	char path[] = "/tmp/test-modules-err.XXXXXX";
	int fd = mkstemp(path);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	int r = hypercall(&vm, COWVMM_HC_ASSERT, &a, sizeof a);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	const char *err = slurp(path);
	ok(r == VMM_EXIT_GUEST_FAIL && strstr(err, "evil.c:7: ?[2J?]0;pwned? x == 1") && !strchr(err, 0x1b),
	   "an assertion's escape sequences are shown as '?', never sent to the terminal");
	unlink(path);

	/* A console flood stops at --console-limit, said once on stderr. */
	vm.console_limit = 10;
	memcpy(gmem_ptr(&vm.mem, ARG_GPA + 0x100, 20), "0123456789abcdefghij", 20);
	struct cowvmm_hc_console c = { .buf_gpa = ARG_GPA + 0x100, .len = 20 };
	char opath[] = "/tmp/test-modules-out.XXXXXX", epath[] = "/tmp/test-modules-err.XXXXXX";
	int ofd = mkstemp(opath), efd = mkstemp(epath);
	fflush(stdout);
	fflush(stderr);
	int so = dup(1), se = dup(2);
	dup2(ofd, 1);
	dup2(efd, 2);
	int r1 = hypercall(&vm, COWVMM_HC_CONSOLE, &c, sizeof c);
	int r2 = hypercall(&vm, COWVMM_HC_CONSOLE, &c, sizeof c);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	close(ofd);
	close(efd);
	ok(r1 == VMM_CONTINUE && r2 == VMM_CONTINUE && !strcmp(slurp(opath), "0123456789"),
	   "the console keeps exactly --console-limit bytes; the guest runs on");
	const char *e = slurp(epath);
	const char *first = strstr(e, "the limit (--console-limit)");
	ok(first && !strstr(first + 1, "the limit (--console-limit)"), "the truncation is said once");
	unlink(opath);
	unlink(epath);
	vm_modules_free(&vm);
	sim_free(&s);
}

/* ---- PTE injection through HC_INJECT ----------------------------------------- */

static void test_inject(void)
{
	struct sim s;
	struct vm vm;
	scenario(&s, RAM);
	vm_over(&vm, &s);
	ok(option(&vm, "inject", "pte:clear-rw@fork") == 0 && option(&vm, "inject", "pte:free-frame@user") == 0 &&
	   option(&vm, "inject", "exc:pf-cow@exit") == 0 && setup(&vm) == 0 &&
	   hypercall(&vm, COWVMM_HC_DESCRIBE, &s.d, sizeof s.d) == VMM_CONTINUE, "three actions set up");
	/* The vCPU "runs" the child: its sregs as KVM would give them. */
	vm.vcpus[0].sregs.cr3 = s.root[1];
	vm.vcpus[0].have_sregs = true;
	/* clear-rw wants a private writable page: give the child one. */
	uint64_t f = sim_page(&s, 1, VA_DATA + 9 * PG, DATA_FLAGS);
	struct cowvmm_hc_inject_point ip = { .checkpoint = COWVMM_CP_FORK, .pid = 2 };
	ok(hypercall(&vm, COWVMM_HC_INJECT, &ip, sizeof ip) == VMM_CONTINUE, "fork inject point");
	const struct cowvmm_hc_inject_point *back = gmem_ptr(&vm.mem, ARG_GPA, sizeof *back);
	struct inject_cfg *c = &inject_state(&vm)->cfg;
	ok(back->applied && c->act[0].applied && !(*sim_pte(&s, 1, VA_DATA + 9 * PG) & COWVMM_PTE_RW) &&
	   (*sim_pte(&s, 1, VA_DATA + 9 * PG) & COWVMM_PTE_ADDR) == f * PG,
	   "clear-rw: the child's only writable page lost RW (%s)", c->act[0].result);
	ip.checkpoint = COWVMM_CP_USER;
	ok(hypercall(&vm, COWVMM_HC_INJECT, &ip, sizeof ip) == VMM_CONTINUE && c->act[1].applied, "free-frame applied: %s",
	   c->act[1].result);
	uint64_t nf = (*sim_pte(&s, 1, VA_TEXT) & COWVMM_PTE_ADDR) / PG;
	ok(nf != 0 && *rc(&s, nf) == 0 && *pins(&s, nf) == 0, "the lowest user page now maps free frame 0x%llx",
	   (unsigned long long)nf);
	ip.checkpoint = COWVMM_CP_EXIT;
	vm.vcpus[0].sregs.cs.selector = 0x23; /* in user mode: the #PF would be queued at once */
	ok(hypercall(&vm, COWVMM_HC_INJECT, &ip, sizeof ip) == VMM_CONTINUE && c->act[2].fired && !c->act[2].applied &&
	   strstr(c->act[2].result, "VCPU_EVENTS"), "an exception without KVM_CAP_VCPU_EVENTS: not applied, said why");
	ip.checkpoint = 99;
	ok(hypercall(&vm, COWVMM_HC_INJECT, &ip, sizeof ip) == VMM_EXIT_CRASH, "inject point of an unknown kind refused");
	vm_modules_free(&vm);
	sim_free(&s);
}

/* ---- the bench report --------------------------------------------------------- */

static void test_bench(void)
{
	struct bench_state b;
	memset(&b, 0, sizeof b);
	b.o.enabled = true;
	b.tsc_khz = 1000000; /* 1 GHz: 1 tick = 1 ns */
	b.samples = calloc(101, sizeof *b.samples);
	for (uint64_t i = 0; i < 100; i++)
		b.samples[b.nsamples++] = (struct cowvmm_sample){ .event = COWVMM_EV_COW_WRITE, .ticks = 100 - i };
	b.samples[b.nsamples++] = (struct cowvmm_sample){ .event = COWVMM_EV_FORK, .arg = 4, .ticks = 7000 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r = bench_report(&b, f);
	fclose(f);
	ok(r == 0 && b.ngroups == 2, "two groups from 101 samples (status %d)", r);
	const struct bench_group *g = bench_group_find(&b, COWVMM_EV_COW_WRITE, 0);
	ok(g && g->count == 100 && g->min == 1 && g->max == 100 && g->p50 >= 50 && g->p50 <= 51 && g->mean == 50.5,
	   "cow_write: min 1, p50 %llu, max 100, mean 50.5", g ? (unsigned long long)g->p50 : 0ull);
	ok(bench_ns(&b, 1000) == 1000.0, "ticks to ns with the TSC rate");
	ok(strstr(text, "cow_write") && strstr(text, "fork"), "the table names both events");
	free(text);
	char path[] = "/tmp/test-modules-bench.XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	ok(bench_write_json(&b, path) == 0, "bench JSON written");
	const char *json = slurp(path);
	ok(strstr(json, "\"cow_write\"") && strstr(json, "\"fork\""), "bench JSON has both events");
	unlink(path);
	bench_free(&b);

	/* Two vCPUs: a loop's guest counters per event, its exits per vCPU. */
	memset(&b, 0, sizeof b);
	b.o.enabled = true;
	b.ncpus = 2;
	b.have_stats = true;
	b.ks[KS_EXITS] = (struct bench_kstat_info){ "exits", true, 0 };
	b.samples = calloc(8, sizeof *b.samples);
	for (uint32_t i = 0; i < 4; i++) {
		b.samples[b.nsamples++] = (struct cowvmm_sample){ .event = COWVMM_EV_COW_WRITE_MT, .arg = 1, .ticks = 900 + i };
		b.samples[b.nsamples++] = (struct cowvmm_sample){ .event = COWVMM_EV_COW_WRITE, .arg = 64, .ticks = 800 + i };
	}
	b.loops = calloc(2, sizeof *b.loops);
	b.loops[0] = (struct bench_loop){ .event = COWVMM_EV_COW_WRITE_MT, .arg = 1, .kd[KS_EXITS] = 11,
					  .exits_cpu = { 4, 6 }, .have_g = true };
	b.loops[0].gd.ipis_sent = 4;
	b.loops[0].gd.tlb_shootdowns = 4;
	b.loops[1] = (struct bench_loop){ .event = COWVMM_EV_COW_WRITE, .arg = 64, .kd[KS_EXITS] = 1, .have_g = true };
	b.nloops = b.caploops = 2;
	f = open_memstream(&text, &len);
	r = bench_report(&b, f);
	fclose(f);
	struct bench_loopsum ls;
	ok(r == 0 && bench_loop_sum(&b, COWVMM_EV_COW_WRITE_MT, 1, &ls) == 1 && ls.gd.ipis_sent == 4 &&
	   ls.exits == 10 && ls.exits_cpu[1] == 6, "loops summed by label: IPIs, exits inside, per vCPU");
	ok(strstr(text, "IPIs/event") && strstr(text, "inside per vCPU"), "two vCPUs: the per-event table and per-vCPU exits");
	free(text);
	char path2[] = "/tmp/test-modules-bench.XXXXXX";
	fd = mkstemp(path2);
	close(fd);
	ok(fd >= 0 && bench_write_json(&b, path2) == 0, "bench JSON written (two vCPUs)");
	json = slurp(path2);
	ok(strstr(json, "\"cow_write_mt\", \"n\": 1,") && strstr(json, "\"ipis_per_event\": 1.000, \"shootdowns_per_event\": 1.000, \"exits_per_loop\": 10.0") &&
	   strstr(json, "\"ipis_per_event\": 0.000") && strstr(json, "\"exits_inside_cpu\": [4, 6]") &&
	   strstr(json, "\"cpus\": 2"),
	   "bench JSON: IPIs and shootdowns per event, exits per loop and per vCPU");
	unlink(path2);
	bench_free(&b);

	/* Hostile samples: the extremes of uint64_t, in histograms and the fork
	 * plot (UBSan: a negative bin index once). */
	memset(&b, 0, sizeof b);
	b.o.enabled = true;
	b.samples = calloc(64, sizeof *b.samples);
	for (uint32_t i = 0; i < 32; i++) {
		uint64_t t = i % 2 ? UINT64_MAX : 0; /* min 0, p99 2^64-1: hi - lo + 1 wraps to 0 */
		b.samples[b.nsamples++] = (struct cowvmm_sample){ .event = COWVMM_EV_COW_FAULT, .ticks = t };
		b.samples[b.nsamples++] = (struct cowvmm_sample){ .event = COWVMM_EV_FORK, .arg = i % 4 ? 1u << i : 0,
								  .ticks = i % 3 ? UINT64_MAX : 0 };
	}
	char dir[] = "/tmp/test-modules-svg.XXXXXX";
	b.o.svg_dir = mkdtemp(dir);
	f = open_memstream(&text, &len);
	r = bench_report(&b, f);
	fclose(f);
	free(text);
	char svg[128];
	snprintf(svg, sizeof svg, "%s/hist-cow_fault-n0.svg", dir);
	ok(r == 0 && access(svg, R_OK) == 0, "extreme samples: report and SVG plots made, no undefined behaviour");
	/* Samples of 0 ticks on the log-scale fork plot: on the axis, not at log10(0). */
	snprintf(svg, sizeof svg, "%s/fork.svg", dir);
	const char *fork_svg = slurp(svg);
	ok(strstr(fork_svg, "<circle") && !strstr(fork_svg, "inf") && !strstr(fork_svg, "nan"),
	   "extreme samples: every coordinate of the fork plot is finite");
	bench_free(&b);
	memset(&b, 0, sizeof b);
	b.o.enabled = true;
	f = open_memstream(&text, &len);
	ok(bench_report(&b, f) == VMM_EXIT_GUEST_FAIL, "no samples: status 1, said so");
	fclose(f);
	free(text);
	bench_free(&b);
}

int main(void)
{
	test_registry();
	test_inspect();
	test_threads_cr3();
	test_inject();
	test_strings();
	test_bench();
	return tap_done();
}
