/* vmm/run.c — the vCPU run loop: every KVM exit reason goes through one handler table (core handlers + registered ones). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <linux/kvm.h>

#include "vmm.h"

/* Hypercalls are the only port I/O the guest may do: a 4-byte OUT of the
 * argument GPA to COWVMM_HC_PORT_BASE + nr. */
static int on_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned port = run->io.port;
	bool is_hc = run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4 &&
		     run->io.count == 1 && port >= COWVMM_HC_PORT_BASE &&
		     port < COWVMM_HC_PORT_BASE + COWVMM_HC_COUNT;
	if (!is_hc || run->io.data_offset > v->vm->run_size - 4)
		return vm_guest_error(v, "unexpected I/O: %s port 0x%x, size %u, count %u",
				      run->io.direction == KVM_EXIT_IO_OUT ? "out to" : "in from",
				      port, run->io.size, run->io.count);
	uint32_t gpa;
	memcpy(&gpa, (uint8_t *)run + run->io.data_offset, sizeof gpa);
	return hypercall_dispatch(v, port - COWVMM_HC_PORT_BASE, gpa);
}

static int on_hlt(struct vcpu *v)
{
	/* Only without the in-kernel irqchip (the --probe guest): nothing could
	 * ever wake a halted vCPU. */
	return vm_guest_error(v, "guest halted (HLT) without an EXIT hypercall");
}

static int on_shutdown(struct vcpu *v)
{
	return vm_guest_error(v, "triple fault (KVM_EXIT_SHUTDOWN): the guest could not "
				  "deliver an exception");
}

static int on_fail_entry(struct vcpu *v)
{
	return vm_guest_error(v, "VM entry failed (KVM_EXIT_FAIL_ENTRY), hardware reason 0x%llx",
			      (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
}

static int on_internal_error(struct vcpu *v)
{
	static const char *const sub[] = {
		[KVM_INTERNAL_ERROR_EMULATION] = "instruction emulation failed",
		[KVM_INTERNAL_ERROR_SIMUL_EX] = "exception while delivering an exception",
		[KVM_INTERNAL_ERROR_DELIVERY_EV] = "exception during event delivery",
		[KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON] = "unexpected exit reason",
	};
	uint32_t s = v->run->internal.suberror;
	const char *what = s < sizeof sub / sizeof sub[0] && sub[s] ? sub[s] : "unknown suberror";
	/* KVM's extra words (exit info, instruction bytes...) help tell why. */
	char data[8 * 19 + 1] = "";
	uint32_t nd = v->run->internal.ndata;
	int len = 0;
	for (uint32_t i = 0; i < nd && i < 8; i++)
		len += snprintf(data + len, sizeof data - (size_t)len, " %llx",
				(unsigned long long)v->run->internal.data[i]);
	return vm_guest_error(v, "KVM internal error %u (%s)%s%s", s, what, nd ? ", data:" : "", data);
}

static int on_mmio(struct vcpu *v)
{
	return vm_guest_error(v, "access to non-RAM guest physical address 0x%llx (%s, %u bytes)",
			      (unsigned long long)v->run->mmio.phys_addr,
			      v->run->mmio.is_write ? "write" : "read", v->run->mmio.len);
}

static int on_unknown(struct vcpu *v)
{
	return vm_guest_error(v, "unexpected KVM exit reason %u", v->run->exit_reason);
}

/* The core's handlers; a module may add one for a reason left empty here
 * (vm_register_exit), never replace one. */
static const vm_exit_fn core_exits[] = {
	[KVM_EXIT_IO] = on_io,
	[KVM_EXIT_HLT] = on_hlt,
	[KVM_EXIT_SHUTDOWN] = on_shutdown,
	[KVM_EXIT_FAIL_ENTRY] = on_fail_entry,
	[KVM_EXIT_INTERNAL_ERROR] = on_internal_error,
	[KVM_EXIT_MMIO] = on_mmio,
};
_Static_assert(sizeof core_exits / sizeof core_exits[0] <= VMM_MAX_EXIT_REASON, "exit table too small");

void vm_register_exit(struct vm *vm, uint32_t reason, vm_exit_fn fn)
{
	bool core = reason < sizeof core_exits / sizeof core_exits[0] && core_exits[reason];
	if (reason >= VMM_MAX_EXIT_REASON || core || vm->exit_fn[reason]) {
		fprintf(stderr, "vmm: internal error: exit reason %u registered twice or out of range\n", reason);
		abort();
	}
	vm->exit_fn[reason] = fn;
}

/* The time is up: one vCPU (the first to see it) stops the world, says so
 * with every vCPU's registers, and ends the run. */
static int on_timeout(struct vcpu *v)
{
	struct vm *vm = v->vm;
	world_stop(&vm->world, v);
	if (atomic_load(&vm->world.ended)) {
		world_resume(&vm->world, v);
		return vm->world.status;
	}
	atomic_store(&vm->wd_handled, true); /* no more kicks while reporting */
	fflush(stdout);
	fprintf(stderr, "vmm: timeout: guest still running after %u s (--timeout)\n", vm->timeout_s);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].started)
			dump_vcpu(&vm->vcpus[i]);
	int st = world_end(&vm->world, v, VMM_EXIT_TIMEOUT);
	world_resume(&vm->world, v);
	return st;
}

/* One vCPU until the run ends: its own exit handler ended it, or another
 * vCPU's did (world_checkin() says so).  Returns the run's status. */
static int vcpu_loop(struct vcpu *v)
{
	struct vm *vm = v->vm;
	for (;;) {
		if (!world_checkin(&vm->world, v))
			return vm->world.status;
		if (watchdog_fired(vm))
			return on_timeout(v);
		vcpu_forget_regs(v);
		int r = kvm_try(v->fd, KVM_RUN, NULL);
		if (r == -EINTR || r == -EAGAIN) {
			v->run->immediate_exit = 0;
			continue; /* a kick; the world and the watchdog are checked above */
		}
		if (r < 0) {
			fflush(stdout);
			fprintf(stderr, "vmm: ioctl KVM_RUN (vcpu %u) failed: %s\n", v->id, strerror(-r));
			dump_vcpu(v);
			return world_end(&vm->world, v, VMM_EXIT_CRASH);
		}
		for (size_t i = 0; i < vm->nmods; i++)
			if (vm->mods[i]->on_exit)
				vm->mods[i]->on_exit(v);
		uint32_t reason = v->run->exit_reason;
		vm_exit_fn h = on_unknown;
		if (reason < sizeof core_exits / sizeof core_exits[0] && core_exits[reason])
			h = core_exits[reason];
		else if (reason < VMM_MAX_EXIT_REASON && vm->exit_fn[reason])
			h = vm->exit_fn[reason];
		int st = h(v);
		if (st != VMM_CONTINUE)
			return world_end(&vm->world, v, st);
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	vcpu_loop(v);
	world_leave(&v->vm->world, v);
	return NULL;
}

int vcpu_start_thread(struct vcpu *v)
{
	struct vm *vm = v->vm;
	world_join(&vm->world, v);
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (r) {
		world_leave(&vm->world, v);
		return -r;
	}
	v->have_thread = true;
	v->started = true;
	return 0;
}

/* vCPU 0 runs on the calling thread; the others on threads of their own
 * once the guest starts them (cpu_start.c).  The run's status is the first
 * one a handler ended it with. */
int vm_run(struct vm *vm)
{
	/* Every vCPU is in the world's kick set from the start (a CPU the guest
	 * starts later must be kicked like the others: seen stuck when it was
	 * not); each one takes part once its thread runs. */
	world_init(&vm->world, vm->vcpus, vm->nvcpus, vcpu_kick);
	if (vm->one_at_a_time)
		world_set_runner(&vm->world, 0);
	struct vcpu *v0 = &vm->vcpus[0];
	world_join(&vm->world, v0);
	v0->thread = pthread_self();
	v0->have_thread = true;
	v0->started = true;
	vcpu_loop(v0);
	world_leave(&vm->world, v0);
	world_drain(&vm->world);
	for (unsigned i = 1; i < vm->nvcpus; i++)
		if (vm->vcpus[i].have_thread) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].have_thread = false;
		}
	v0->have_thread = false;
	int st = vm->world.status;
	world_destroy(&vm->world);
	return st;
}
