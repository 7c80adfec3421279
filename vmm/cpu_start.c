/* vmm/cpu_start.c — HC_CPU_START: the kernel starts another vCPU straight in 64-bit mode, at its own entry and stack, on a thread of its own. */
#include <stdio.h>
#include <string.h>

#include <linux/kvm.h>

#include "cowvmm/x86.h"
#include "ptwalk.h"
#include "vmm.h"

/* Every field is hostile: a CPU that does not exist or already runs, an
 * entry or stack that is not a kernel address, page tables outside RAM end
 * the run as a guest error.  The vCPU's CPUID, FPU and boot segments were
 * set at boot (boot_setup_vcpu()); here come the registers the kernel chose
 * and KVM_MP_STATE_RUNNABLE (with the in-kernel irqchip an AP otherwise
 * waits for INIT/SIPI). */
static int hc_cpu_start(struct vcpu *v, void *argp)
{
	struct vm *vm = v->vm;
	struct cowvmm_hc_cpu_start a;
	memcpy(&a, argp, sizeof a);
	if (a.cpu == 0 || a.cpu >= vm->nvcpus)
		return vm_guest_error(v, "hypercall CPU_START: cpu %u does not exist (this VM has %u)", a.cpu,
				      vm->nvcpus);
	struct vcpu *n = &vm->vcpus[a.cpu];
	if (n->started)
		return vm_guest_error(v, "hypercall CPU_START: cpu %u already started", a.cpu);
	if (!ptw_canonical(a.rip) || !ptw_canonical(a.rsp) || a.rip < COWVMM_KERNEL_BASE ||
	    a.rsp < COWVMM_DIRECT_MAP_BASE)
		return vm_guest_error(v, "hypercall CPU_START: cpu %u: rip 0x%llx / rsp 0x%llx not kernel addresses",
				      a.cpu, (unsigned long long)a.rip, (unsigned long long)a.rsp);
	if (a.cr3 % COWVMM_PAGE_SIZE || !gmem_ptr(&vm->mem, a.cr3, COWVMM_PAGE_SIZE))
		return vm_guest_error(v, "hypercall CPU_START: cpu %u: cr3 0x%llx outside RAM or misaligned", a.cpu,
				      (unsigned long long)a.cr3);
	const struct kvm_sregs *cur = vcpu_sregs(n);
	if (!cur)
		return vm_guest_error(v, "hypercall CPU_START: cpu %u: KVM_GET_SREGS failed", a.cpu);
	struct kvm_sregs s = *cur;
	s.cr3 = a.cr3;
	vcpu_set_sregs(n, &s);
	struct kvm_regs r = {
		.rip = a.rip, .rsp = a.rsp, .rdi = a.arg, .rsi = a.cpu, .rflags = X86_RFLAGS_FIXED,
	};
	KVM_CHECK(n->fd, KVM_SET_REGS, &r, "vcpu %u: rip 0x%llx rsp 0x%llx", a.cpu, (unsigned long long)a.rip,
		  (unsigned long long)a.rsp);
	vcpu_forget_regs(n);
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	KVM_CHECK(n->fd, KVM_SET_MP_STATE, &mp, "vcpu %u: runnable", a.cpu);
	int e = vcpu_start_thread(n);
	if (e < 0)
		return vm_guest_error(v, "hypercall CPU_START: cpu %u: no host thread: %s", a.cpu, strerror(-e));
	vm_note(vm, "cpu %u started at 0x%llx", a.cpu, (unsigned long long)a.rip);
	return VMM_CONTINUE;
}

void cpu_start_register(struct vm *vm)
{
	vm_register_hypercall(vm, COWVMM_HC_CPU_START, sizeof(struct cowvmm_hc_cpu_start), hc_cpu_start);
}
