/* vmm/probe.c — `vmm --probe`: can this host's KVM run a long-mode guest with user mode like ours? */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "cowvmm/x86.h"
#include "vmm.h"

#define PROBE_CODE_GPA COWVMM_KERNEL_MIN_GPA            /* kernel code, kernel half */
#define PROBE_LSTAR_OFF 0x100                           /* syscall entry inside it */
#define PROBE_CELL_GPA (COWVMM_KERNEL_MIN_GPA + 0x1000) /* store target, direct map */
#define PROBE_KSTACK_TOP (COWVMM_KERNEL_MIN_GPA + 0x3000)
#define PROBE_USER_VA 0x200000ull  /* 2 MiB user page, identity mapped, U/S */
#define PROBE_PDPT_U (COWVMM_BOOT_PT_END - 0x2000)
#define PROBE_PD_U (COWVMM_BOOT_PT_END - 0x1000)
#define PROBE_VALUE 0x600dcafeu
#define PROBE_PORT (COWVMM_HC_PORT_BASE + COWVMM_HC_EXIT)


/* Exercises what the real guest relies on: 64-bit code fetched through the
 * kernel-half mapping, a store through the direct map, iretq to ring 3, and
 * SYSCALL from ring 3 back to ring 0, which then does the hypercall OUT.
 * (A host whose KVM cannot take SYSCALL from a guest's user mode, as seen on
 * a PVM-based /dev/kvm, fails here rather than in the middle of a test.) */
static size_t put(uint8_t *c, size_t n, const void *bytes, size_t len)
{
	memcpy(c + n, bytes, len);
	return n + len;
}

static void write_kernel_code(uint8_t *c)
{
	const uint64_t cell = COWVMM_DIRECT_MAP_BASE + PROBE_CELL_GPA;
	const uint64_t kstack = COWVMM_DIRECT_MAP_BASE + PROBE_KSTACK_TOP;
	const uint32_t val = PROBE_VALUE, user_rsp = PROBE_USER_VA + 0x1000;
	const uint32_t uss = X86_SEL_UDATA | X86_SEL_RPL3, ucs = X86_SEL_UCODE | X86_SEL_RPL3, urip = PROBE_USER_VA;
	size_t n = 0;
	n = put(c, n, "\x48\xbc", 2), n = put(c, n, &kstack, 8);      /* movabs $kstack, %rsp */
	n = put(c, n, "\xb8", 1), n = put(c, n, &val, 4);              /* mov $val, %eax */
	n = put(c, n, "\xa3", 1), n = put(c, n, &cell, 8);             /* movabs %eax, cell */
	n = put(c, n, "\x68", 1), n = put(c, n, &uss, 4);              /* push $user ss */
	n = put(c, n, "\x68", 1), n = put(c, n, &user_rsp, 4);         /* push $user rsp */
	n = put(c, n, "\x6a\x02", 2);                                  /* push $2 (rflags) */
	n = put(c, n, "\x68", 1), n = put(c, n, &ucs, 4);              /* push $user cs */
	n = put(c, n, "\x68", 1), n = put(c, n, &urip, 4);             /* push $user rip */
	n = put(c, n, "\x48\xcf", 2);                                  /* iretq */
	/* SYSCALL entry: the user's %eax goes out to the hypercall port. */
	n = PROBE_LSTAR_OFF;
	const uint16_t port = PROBE_PORT;
	n = put(c, n, "\x66\xba", 2), n = put(c, n, &port, 2);        /* mov $port, %dx */
	n = put(c, n, "\xef\xf4\xeb\xfd", 4);                        /* out %eax,(%dx); hlt; jmp hlt */
}

static void write_user_code(uint8_t *c)
{
	const uint32_t val = PROBE_VALUE;
	size_t n = put(c, 0, "\xb8", 1);
	n = put(c, n, &val, 4);                                         /* mov $val, %eax */
	put(c, n, "\x0f\x05\xeb\xfe", 4);                            /* syscall; jmp . */
}

/* Ring-3 segments, a U/S mapping of the user page and the SYSCALL MSRs. */
static void setup_user(struct vm *vm)
{
	struct vcpu *v = &vm->vcpus[0];
	uint64_t *gdt = gmem_ptr(&vm->mem, COWVMM_BOOT_GDT_GPA, 5 * 8);
	gdt[3] = 0x00cff3000000ffffull; /* user data: DPL 3 */
	gdt[4] = 0x00affb000000ffffull; /* user code: DPL 3, L */
	struct kvm_sregs s = *vcpu_sregs(v); /* boot_setup_vcpu() just set them */
	s.gdt.limit = 5 * 8 - 1;
	vcpu_set_sregs(v, &s);

	const uint64_t u = COWVMM_PTE_P | COWVMM_PTE_RW | COWVMM_PTE_US;
	uint64_t *pml4 = gmem_ptr(&vm->mem, s.cr3, COWVMM_PAGE_SIZE);
	uint64_t *pdpt = gmem_ptr(&vm->mem, PROBE_PDPT_U, COWVMM_PAGE_SIZE);
	uint64_t *pd = gmem_ptr(&vm->mem, PROBE_PD_U, COWVMM_PAGE_SIZE);
	memset(pdpt, 0, COWVMM_PAGE_SIZE);
	memset(pd, 0, COWVMM_PAGE_SIZE);
	pml4[0] = PROBE_PDPT_U | u;
	pdpt[0] = PROBE_PD_U | u;
	pd[PROBE_USER_VA >> 21] = PROBE_USER_VA | u | COWVMM_PTE_PS;

	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[3];
	} msrs = { .hdr.nmsrs = 3, .e = {
		{ .index = X86_MSR_STAR, .data = (uint64_t)(X86_SEL_UDATA - 8) << 48 | (uint64_t)X86_SEL_KCODE << 32 },
		{ .index = X86_MSR_LSTAR, .data = COWVMM_KERNEL_BASE + PROBE_CODE_GPA + PROBE_LSTAR_OFF },
		{ .index = X86_MSR_FMASK, .data = X86_RFLAGS_IF },
	} };
	int r = KVM_CHECK(v->fd, KVM_SET_MSRS, &msrs, "STAR, LSTAR, FMASK");
	if (r != 3) {
		fprintf(stderr, "vmm: probe: KVM_SET_MSRS set %d of 3 SYSCALL MSRs\n", r);
		exit(VMM_EXIT_NO_KVM);
	}
}

static int fail(const char *what)
{
	fprintf(stderr, "vmm: probe: %s\n", what);
	return VMM_EXIT_NO_KVM;
}

static int run_once(struct vm *vm)
{
	for (int tries = 0; tries < 100; tries++) {
		int r = kvm_try(vm->vcpus[0].fd, KVM_RUN, NULL);
		if (r == -EINTR || r == -EAGAIN)
			continue;
		if (r < 0) {
			fprintf(stderr, "vmm: probe: KVM_RUN failed: %s\n", strerror(-r));
			return -1;
		}
		return (int)vm->vcpus[0].run->exit_reason;
	}
	fprintf(stderr, "vmm: probe: KVM_RUN keeps being interrupted\n");
	return -1;
}

static int probe_run(void)
{
	struct vm vm = { .kvm_fd = -1, .vm_fd = -1 };
	int st = VMM_EXIT_NO_KVM;
	if (gmem_init(&vm.mem, COWVMM_RAM_MIN) < 0)
		return fail("cannot allocate guest RAM");
	if (kvm_setup(&vm, 1, false))
		goto out;
	write_kernel_code(gmem_ptr(&vm.mem, PROBE_CODE_GPA, 0x200));
	write_user_code(gmem_ptr(&vm.mem, PROBE_USER_VA, 16));
	boot_setup_memory(&vm);
	boot_setup_vcpu(&vm.vcpus[0], COWVMM_KERNEL_BASE + PROBE_CODE_GPA);
	setup_user(&vm);

	int reason = run_once(&vm);
	if (reason < 0)
		goto out;
	struct kvm_run *run = vm.vcpus[0].run;
	if (reason != KVM_EXIT_IO) {
		/* Where it stopped tells which step failed: kernel code, user code, entry. */
		struct kvm_regs r = { 0 };
		struct kvm_sregs sr = { 0 };
		kvm_try(vm.vcpus[0].fd, KVM_GET_REGS, &r);
		kvm_try(vm.vcpus[0].fd, KVM_GET_SREGS, &sr);
		char msg[256];
		snprintf(msg, sizeof msg, "exit reason %d instead of the hypercall%s "
			 "(rip 0x%llx cs 0x%x cr2 0x%llx)", reason,
			 reason == KVM_EXIT_SHUTDOWN ? ": triple fault" :
			 reason == KVM_EXIT_FAIL_ENTRY ? ": VM entry refused the long-mode state" :
			 reason == KVM_EXIT_INTERNAL_ERROR ? ": KVM internal error" : "",
			 r.rip, sr.cs.selector, sr.cr2);
		if ((sr.cs.selector & 3) && r.rip >= COWVMM_KERNEL_BASE)
			snprintf(msg, sizeof msg, "SYSCALL from ring 3 entered the kernel still in "
				 "ring 3 (rip 0x%llx cs 0x%x, exit reason %d): this /dev/kvm cannot "
				 "run the guest's user mode", r.rip, sr.cs.selector, reason);
		st = fail(msg);
		goto out;
	}
	uint32_t val = 0;
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != PROBE_PORT || run->io.size != 4)
		goto bad_io;
	if (run->io.data_offset > vm.run_size - 4)
		goto bad_io;
	memcpy(&val, (uint8_t *)run + run->io.data_offset, 4);
	if (val != PROBE_VALUE)
		goto bad_io;
	uint32_t *cell = gmem_ptr(&vm.mem, PROBE_CELL_GPA, 4);
	if (*cell != PROBE_VALUE) {
		st = fail("the guest's store through the direct map did not reach guest RAM");
		goto out;
	}
	reason = run_once(&vm);
	if (reason != KVM_EXIT_HLT) {
		if (reason >= 0) {
			char msg[96];
			snprintf(msg, sizeof msg, "exit reason %d after the OUT, expected KVM_EXIT_HLT",
				 reason);
			fail(msg);
		}
		goto out;
	}
	st = VMM_EXIT_OK;
	goto out;
bad_io:;
	char msg[160];
	snprintf(msg, sizeof msg, "unexpected I/O exit: port 0x%x dir %u size %u value 0x%x",
		 run->io.port, run->io.direction, run->io.size, val);
	st = fail(msg);
out:
	kvm_teardown(&vm);
	gmem_free(&vm.mem);
	return st;
}

/* ---- the module: --probe replaces the run ---------------------------------- */

struct probe_state {
	bool asked;
};

static const struct vmm_module probe_module;

static int probe_option(struct vm *vm, int id, const char *arg)
{
	(void)id;
	(void)arg;
	struct probe_state *p = vm_state(vm, &probe_module);
	p->asked = true;
	return 0;
}

static int probe_start(struct vm *vm)
{
	const struct probe_state *p = vm_state(vm, &probe_module);
	return p->asked ? probe_run() : VMM_CONTINUE;
}

static void probe_usage(FILE *f)
{
	fprintf(f,
		"\n"
		"Probe:\n"
		"      --probe         only check that this host's KVM runs a tiny built-in\n"
		"                      long-mode guest (ring 0, ring 3, SYSCALL, hypercall);\n"
		"                      exit 0 if it does, 3 if not (no kernel image needed):\n"
		"                        vmm --probe && echo KVM works\n");
}

static const struct vmm_option probe_options[] = {
	{ "probe", false, 0 },
	{ NULL, false, 0 },
};

static const struct vmm_module probe_module = {
	.name = "probe",
	.order = 0,
	.state_size = sizeof(struct probe_state),
	.options = probe_options,
	.usage = probe_usage,
	.option = probe_option,
	.start = probe_start,
};
VMM_MODULE(probe_module);
