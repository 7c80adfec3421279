/* vmm/run.c — the vCPU run loop: every KVM exit reason goes through one handler table. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <linux/kvm.h>

#include "vmm.h"

int vm_guest_error(struct vm *vm, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout); /* the guest's console output first, then why it ended */
	fputs("vmm: guest error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	dump_vcpu(vm);
	return VMM_EXIT_CRASH;
}

void vm_note(struct vm *vm, const char *fmt, ...)
{
	va_list ap;
	if (vm->quiet)
		return;
	fflush(stdout);
	fputs("vmm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Hypercalls are the only port I/O the guest may do: a 4-byte OUT of the
 * argument GPA to COWVMM_HC_PORT_BASE + nr. */
static int on_io(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	unsigned port = run->io.port;
	bool is_hc = run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4 &&
		     run->io.count == 1 && port >= COWVMM_HC_PORT_BASE &&
		     port < COWVMM_HC_PORT_BASE + COWVMM_HC_COUNT;
	if (!is_hc || run->io.data_offset > vm->run_size - 4)
		return vm_guest_error(vm, "unexpected I/O: %s port 0x%x, size %u, count %u",
				      run->io.direction == KVM_EXIT_IO_OUT ? "out to" : "in from",
				      port, run->io.size, run->io.count);
	uint32_t gpa;
	memcpy(&gpa, (uint8_t *)run + run->io.data_offset, sizeof gpa);
	return hypercall_dispatch(vm, port - COWVMM_HC_PORT_BASE, gpa);
}

static int on_hlt(struct vm *vm)
{
	/* No interrupt is ever injected: a halted vCPU would sleep forever. */
	return vm_guest_error(vm, "guest halted (HLT) without an EXIT hypercall");
}

static int on_shutdown(struct vm *vm)
{
	return vm_guest_error(vm, "triple fault (KVM_EXIT_SHUTDOWN): the guest could not "
				  "deliver an exception");
}

static int on_fail_entry(struct vm *vm)
{
	return vm_guest_error(vm, "VM entry failed (KVM_EXIT_FAIL_ENTRY), hardware reason 0x%llx",
			      (unsigned long long)vm->run->fail_entry.hardware_entry_failure_reason);
}

static int on_internal_error(struct vm *vm)
{
	static const char *const sub[] = {
		[KVM_INTERNAL_ERROR_EMULATION] = "instruction emulation failed",
		[KVM_INTERNAL_ERROR_SIMUL_EX] = "exception while delivering an exception",
		[KVM_INTERNAL_ERROR_DELIVERY_EV] = "exception during event delivery",
		[KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON] = "unexpected exit reason",
	};
	uint32_t s = vm->run->internal.suberror;
	const char *what = s < sizeof sub / sizeof sub[0] && sub[s] ? sub[s] : "unknown suberror";
	/* KVM's extra words (exit info, instruction bytes...) help tell why. */
	char data[8 * 19 + 1] = "";
	uint32_t nd = vm->run->internal.ndata;
	int len = 0;
	for (uint32_t i = 0; i < nd && i < 8; i++)
		len += snprintf(data + len, sizeof data - (size_t)len, " %llx",
				(unsigned long long)vm->run->internal.data[i]);
	return vm_guest_error(vm, "KVM internal error %u (%s)%s%s", s, what, nd ? ", data:" : "", data);
}

static int on_mmio(struct vm *vm)
{
	return vm_guest_error(vm, "access to non-RAM guest physical address 0x%llx (%s, %u bytes)",
			      (unsigned long long)vm->run->mmio.phys_addr,
			      vm->run->mmio.is_write ? "write" : "read", vm->run->mmio.len);
}

static int on_unknown(struct vm *vm)
{
	return vm_guest_error(vm, "unexpected KVM exit reason %u", vm->run->exit_reason);
}

typedef int (*exit_handler)(struct vm *vm);

static const exit_handler exit_table[] = {
	[KVM_EXIT_IO] = on_io,
	[KVM_EXIT_HLT] = on_hlt,
	[KVM_EXIT_SHUTDOWN] = on_shutdown,
	[KVM_EXIT_FAIL_ENTRY] = on_fail_entry,
	[KVM_EXIT_INTERNAL_ERROR] = on_internal_error,
	[KVM_EXIT_MMIO] = on_mmio,
	[KVM_EXIT_DEBUG] = inject_on_debug, /* an armed user-mode #PF (inject_apply.c) */
};

static int on_timeout(struct vm *vm)
{
	watchdog_stop(); /* no more SIGALRM while reporting */
	fflush(stdout);
	fprintf(stderr, "vmm: timeout: guest still running after %u s (--timeout)\n", vm->timeout_s);
	dump_vcpu(vm);
	return VMM_EXIT_TIMEOUT;
}

int vm_run(struct vm *vm)
{
	for (;;) {
		if (watchdog_fired())
			return on_timeout(vm);
		int r = kvm_try(vm->vcpu_fd, KVM_RUN, NULL);
		if (r == -EINTR || r == -EAGAIN) {
			vm->run->immediate_exit = 0;
			continue; /* a stray signal; the watchdog is checked above */
		}
		if (r < 0) {
			fflush(stdout);
			fprintf(stderr, "vmm: ioctl KVM_RUN (vcpu 0) failed: %s\n", strerror(-r));
			dump_vcpu(vm);
			return VMM_EXIT_CRASH;
		}
		inject_on_exit(vm);
		inspect_count_exit(vm);
		uint32_t reason = vm->run->exit_reason;
		exit_handler h = on_unknown;
		if (reason < sizeof exit_table / sizeof exit_table[0] && exit_table[reason])
			h = exit_table[reason];
		int st = h(vm);
		if (st != VMM_CONTINUE)
			return st;
	}
}
