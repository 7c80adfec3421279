/* vmm/probe.c — `vmm --probe`: can this host's KVM run a long-mode guest like ours? */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/kvm.h>

#include "vmm.h"

#define PROBE_CODE_GPA COWVMM_KERNEL_MIN_GPA
#define PROBE_CELL_GPA (COWVMM_KERNEL_MIN_GPA + 0x1000)
#define PROBE_VALUE 0x600dcafeu
#define PROBE_PORT (COWVMM_HC_PORT_BASE + COWVMM_HC_EXIT)

/* Exercises what the real guest relies on at boot: 64-bit code fetched through
 * the kernel-half mapping, a store through the direct map, a hypercall OUT. */
static void write_code(uint8_t *c)
{
	const uint64_t cell = COWVMM_DIRECT_MAP_BASE + PROBE_CELL_GPA;
	size_t n = 0;
	c[n++] = 0xb8; /* mov $PROBE_VALUE, %eax */
	memcpy(c + n, &(uint32_t){ PROBE_VALUE }, 4), n += 4;
	c[n++] = 0xa3; /* movabs %eax, cell */
	memcpy(c + n, &cell, 8), n += 8;
	c[n++] = 0x66, c[n++] = 0xba; /* mov $PROBE_PORT, %dx */
	memcpy(c + n, &(uint16_t){ PROBE_PORT }, 2), n += 2;
	c[n++] = 0xef; /* out %eax, (%dx) */
	c[n++] = 0xf4; /* hlt */
	c[n++] = 0xeb, c[n++] = 0xfd; /* jmp hlt */
}

static int fail(const char *what)
{
	fprintf(stderr, "vmm: probe: %s\n", what);
	return VMM_EXIT_NO_KVM;
}

static int run_once(struct vm *vm)
{
	for (int tries = 0; tries < 100; tries++) {
		int r = kvm_try(vm->vcpu_fd, KVM_RUN, NULL);
		if (r == -EINTR || r == -EAGAIN)
			continue;
		if (r < 0) {
			fprintf(stderr, "vmm: probe: KVM_RUN failed: %s\n", strerror(-r));
			return -1;
		}
		return (int)vm->run->exit_reason;
	}
	fprintf(stderr, "vmm: probe: KVM_RUN keeps being interrupted\n");
	return -1;
}

int probe_run(void)
{
	struct vm vm = { .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1 };
	int st = VMM_EXIT_NO_KVM;
	if (gmem_init(&vm.mem, COWVMM_RAM_MIN) < 0)
		return fail("cannot allocate guest RAM");
	if (kvm_setup(&vm))
		goto out;
	uint8_t *code = gmem_ptr(&vm.mem, PROBE_CODE_GPA, 64);
	write_code(code);
	boot_setup_cpu(&vm, COWVMM_KERNEL_BASE + PROBE_CODE_GPA);

	int reason = run_once(&vm);
	if (reason < 0)
		goto out;
	struct kvm_run *run = vm.run;
	if (reason != KVM_EXIT_IO) {
		char msg[160];
		snprintf(msg, sizeof msg, "first exit is reason %d, expected KVM_EXIT_IO (%d)%s",
			 reason, KVM_EXIT_IO,
			 reason == KVM_EXIT_SHUTDOWN ? ": the long-mode guest triple-faulted" :
			 reason == KVM_EXIT_FAIL_ENTRY ? ": VM entry refused the long-mode state" : "");
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
