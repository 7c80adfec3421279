/* tests/fuzz/fuzz_hypercall.c — libFuzzer entry point: a hostile guest's RAM and a sequence of hypercalls through the VMM's real table (describe, inspect and the audit, the walker, inject, bench, console, crash...). */
/*
 * The input is the guest: its first RAM_BYTES fill guest RAM (process
 * table, frame books, page tables, hypercall arguments, all chosen by the
 * fuzzer), and the rest is a program of hypercalls, 4 bytes each: the
 * number (low byte) and the argument's page offset.  Each run starts from a
 * fresh VM object with every module, as `vmm --audit-continue` would run,
 * without KVM (vCPU fd -1: anything else that needs KVM fails cleanly;
 * the register cache holds what KVM would report).  A
 * crash, a sanitizer report or a hang is a finding; the VMM's own verdicts
 * (guest errors, violations) are the expected outcome of hostile input.
 *
 * Built by `make fuzz` with clang's libFuzzer; built with gcc and
 * -DFUZZ_STANDALONE by `make check`, which replays tests/fuzz/corpus-hypercall.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "books.h"
#include "vmm.h"

#define RAM_BYTES (1u << 20) /* 256 frames: small enough to audit quickly */
#define MAX_CALLS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run_hooks(struct vm *vm, int stage)
{
	for (size_t i = 0; i < vm->nmods; i++) {
		const struct vmm_module *m = vm->mods[i];
		if (stage == 0 && m->setup)
			m->setup(vm);
		else if (stage == 1 && m->finish)
			m->finish(vm, VMM_EXIT_OK);
	}
}

static void option(struct vm *vm, const char *name, const char *arg)
{
	for (size_t i = 0; i < vm->nmods; i++)
		for (const struct vmm_option *o = vm->mods[i]->options; o && o->name; o++)
			if (!strcmp(o->name, name))
				vm->mods[i]->option(vm, o->id, arg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gmem mem;
	static int quiet = -1;
	if (!mem.base && gmem_init(&mem, RAM_BYTES) < 0)
		abort();
#ifdef FUZZ_STANDALONE
	/* The VMM says a lot about hostile input: keep it off the terminal
	 * (libFuzzer does the same with -close_fd_mask=3, keeping its own). */
	if (quiet < 0)
		quiet = getenv("FUZZ_VERBOSE") ? 1 : open("/dev/null", O_WRONLY);
	if (quiet > 2) {
		dup2(quiet, 1);
		dup2(quiet, 2);
		close(quiet);
		quiet = 1;
	}
#else
	(void)quiet;
#endif
	size_t ram = size < RAM_BYTES ? size : RAM_BYTES;
	memset(mem.base, 0, RAM_BYTES);
	memcpy(mem.base, data, ram);

	struct vm *vm = calloc(1, sizeof *vm);
	if (!vm)
		abort();
	vm->kvm_fd = vm->vm_fd = -1;
	vm->quiet = true;
	vm->console_limit = 4096;
	vm->mem = mem;
	vm->nvcpus = 1;
	vm->vcpus[0] = (struct vcpu){ .vm = vm, .id = 0, .fd = -1, .stats_fd = -1 };
	if (vm_modules_init(vm))
		abort();
	option(vm, "audit-continue", NULL); /* keep going after violations: more code per input */
	option(vm, "no-dirty-log", NULL);
	option(vm, "inject", "pte:clear-rw@cow-before");
	option(vm, "inject", "pte:free-frame@fork");
	option(vm, "bench-json", "/dev/null"); /* the bench report of hostile samples too */
	lifecycle_register(vm);
	cpu_start_register(vm);
	run_hooks(vm, 0);
	world_init(&vm->world, vm->vcpus, vm->nvcpus, vcpu_kick);
	world_join(&vm->world, &vm->vcpus[0]);

	/* The program: hypercall number and argument page offset (8-aligned). */
	const uint8_t *prog = data + ram;
	size_t nprog = (size - ram) / 4;
	for (size_t i = 0; i < nprog && i < MAX_CALLS; i++) {
		const uint8_t *p = prog + 4 * i;
		unsigned nr = p[0] % (COWVMM_HC_COUNT + 1);
		uint64_t gpa = ((uint64_t)p[1] << 12 | (uint64_t)p[2] << 4 | (p[3] & 0x8)) % RAM_BYTES;
		if (nr == COWVMM_HC_CPU_START || nr == COWVMM_HC_EXIT)
			continue; /* would start a thread / ends the run: nothing more to test */
		/* The registers KVM would report: the root the input puts in the
		 * first process entry's cr3 field (in the seeds' layout), user or
		 * kernel mode as the program says. */
		struct vcpu *v = &vm->vcpus[0];
		memset(&v->sregs, 0, sizeof v->sregs);
		memcpy(&v->sregs.cr3, mem.base + 0x1010, 8);
		v->sregs.cs.selector = p[3] & 1 ? 0x23 : 0x08;
		v->have_sregs = true;
		v->have_regs = true;
		int r = hypercall_dispatch(&vm->vcpus[0], nr, gpa);
		if (r != VMM_CONTINUE && r != VMM_EXIT_CRASH && r != VMM_EXIT_GUEST_FAIL && r != VMM_EXIT_NO_KVM)
			abort(); /* a status the VMM does not document */
	}
	run_hooks(vm, 1);
	world_leave(&vm->world, &vm->vcpus[0]);
	world_destroy(&vm->world);
	vm_modules_free(vm);
	free(vm);
	return 0;
}

#ifdef FUZZ_STANDALONE
/* ---- seeds: a small correct guest after a fork, and the calls it makes ---- */

static uint8_t seed[RAM_BYTES + 4 * MAX_CALLS];

static void put64(uint64_t gpa, uint64_t v) { memcpy(seed + gpa, &v, 8); }
static void put32(uint64_t gpa, uint32_t v) { memcpy(seed + gpa, &v, 4); }

/* Frames: 16 zero frame, 17-20 pid 1's tables, 21-24 its data (shared
 * with pid 2 after fork), 25-28 pid 2's tables.  Refcount = PTEs + pins. */
#define PROC 0x1000u
#define RC 0x2000u
#define PINS 0x2400u
#define FREEC 0x2800u
#define STATS 0x2808u
#define KPML4 0x3000u
#define DESC 0x4000u
#define ARGS 0x5000u

static void table_chain(uint64_t root, uint32_t first, uint64_t va)
{
	uint64_t t = root;
	for (int l = 4; l > 1; l--) {
		uint64_t next = (uint64_t)(first + (4 - l) + 1) * 4096;
		put64(t + 8 * ((va >> (12 + 9 * (l - 1))) & 511), next | COWVMM_PTE_P | COWVMM_PTE_RW | COWVMM_PTE_US);
		t = next;
	}
}

static size_t make_seed(int variant)
{
	memset(seed, 0, sizeof seed);
	const uint64_t va = 0x400000;
	struct cowvmm_hc_describe d = {
		.layout_version = COWVMM_LAYOUT_VERSION, .nproc = 8, .proc_table_gpa = PROC,
		.proc = { .stride = 128, .off_pid = 0, .off_ppid = 4, .off_state = 8, .off_cr3 = 16, .off_name = 24 },
		.refcount_gpa = RC, .nframes = 256, .first_frame = 16, .free_count_gpa = FREEC, .pins_gpa = PINS,
		.zero_frame = 16, .kernel_pml4_gpa = KPML4, .stats_gpa = STATS,
	};
	memcpy(seed + DESC, &d, sizeof d);
	for (uint32_t pid = 1; pid <= 2; pid++) {
		uint64_t e = PROC + (pid - 1) * 128;
		uint32_t root = pid == 1 ? 17 : 25;
		put32(e + 0, pid);
		put32(e + 4, pid - 1);
		put32(e + 8, COWVMM_PSTATE_RUNNABLE);
		put64(e + 16, (uint64_t)root * 4096);
		memcpy(seed + e + 24, pid == 1 ? "parent" : "child", 6);
		table_chain((uint64_t)root * 4096, root, va);
		for (uint32_t t = root; t < root + 4; t++) {
			put32(RC + 4 * t, 1);
			put32(PINS + 4 * t, 1);
		}
		uint64_t pt = (uint64_t)(root + 3) * 4096;
		for (uint32_t k = 0; k < 4; k++)
			put64(pt + 8 * k, (uint64_t)(21 + k) * 4096 | COWVMM_PTE_P | COWVMM_PTE_US | COWVMM_PTE_COW |
					  COWVMM_PTE_NX);
	}
	for (uint32_t k = 0; k < 4; k++)
		put32(RC + 4 * (21 + k), 2);
	put32(RC + 4 * 16, 1);
	put32(PINS + 4 * 16, 1);
	put64(FREEC, 256 - 16 - 13);
	/* Hypercall arguments. */
	struct cowvmm_hc_inspect fork = { .checkpoint = COWVMM_CP_FORK, .pid = 1, .pid2 = 2 };
	struct cowvmm_hc_inspect before = { .checkpoint = COWVMM_CP_COW_BEFORE, .pid = 2, .va = va, .frame_old = 21 };
	struct cowvmm_hc_inject_point ip = { .checkpoint = COWVMM_CP_FORK, .pid = 1, .va = va };
	struct cowvmm_hc_bench b0 = { .phase = 0, .count = COWVMM_EV_FORK }, b2 = { .samples_gpa = 0x6000, .count = 4,
										     .phase = 2 };
	struct cowvmm_hc_console con = { .buf_gpa = 0x7000, .len = 5 };
	memcpy(seed + ARGS + 0x000, &fork, sizeof fork);
	memcpy(seed + ARGS + 0x100, &before, sizeof before);
	memcpy(seed + ARGS + 0x200, &ip, sizeof ip);
	memcpy(seed + ARGS + 0x300, &b0, sizeof b0);
	memcpy(seed + ARGS + 0x400, &b2, sizeof b2);
	memcpy(seed + ARGS + 0x500, &con, sizeof con);
	memcpy(seed + 0x7000, "hello", 5);
	for (int k = 0; k < 4; k++) {
		struct cowvmm_sample sm = { .event = COWVMM_EV_FORK, .arg = 1, .ticks = 1000u + k };
		memcpy(seed + 0x6000 + k * sizeof sm, &sm, sizeof sm);
	}
	/* The program: describe, then the variant's calls (offset = page << 12 | byte << 4). */
	static const uint8_t progs[3][8][4] = {
		{ { COWVMM_HC_DESCRIBE, 0x04, 0, 0 }, { COWVMM_HC_INSPECT, 0x05, 0x00, 0 },
		  { COWVMM_HC_INSPECT, 0x05, 0x10, 0 }, { COWVMM_HC_CONSOLE, 0x05, 0x50, 0 } },
		{ { COWVMM_HC_DESCRIBE, 0x04, 0, 0 }, { COWVMM_HC_INJECT, 0x05, 0x20, 0 },
		  { COWVMM_HC_INSPECT, 0x05, 0x00, 0 }, { COWVMM_HC_BENCH, 0x05, 0x30, 0 },
		  { COWVMM_HC_BENCH, 0x05, 0x40, 0 } },
		{ { COWVMM_HC_INSPECT, 0x05, 0x00, 0 }, { COWVMM_HC_DESCRIBE, 0x04, 0, 0 },
		  { COWVMM_HC_DESCRIBE, 0x04, 0, 0 }, { 7, 0xff, 0xff, 0xff } },
	};
	size_t n = RAM_BYTES;
	for (int k = 0; k < 8 && progs[variant][k][1]; k++)
		memcpy(seed + n + 4 * (size_t)k, progs[variant][k], 4), n += 4;
	return n;
}

/* `fuzz_hypercall --seeds DIR` writes the seed corpus; otherwise every file
 * named is replayed as one input. */
int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--seeds")) {
		for (int v = 0; v < 3; v++) {
			char path[4096];
			snprintf(path, sizeof path, "%s/seed-%d", argv[2], v);
			size_t n = make_seed(v);
			FILE *f = fopen(path, "wb");
			if (!f || fwrite(seed, 1, n, f) != n || fclose(f)) {
				perror(path);
				return 1;
			}
		}
		return 0;
	}
	static uint8_t buf[RAM_BYTES + 4 * MAX_CALLS];
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			perror(argv[i]);
			return 1;
		}
		size_t n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	return 0;
}
#endif
