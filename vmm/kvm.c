/* vmm/kvm.c — /dev/kvm: raw and asserting ioctl wrappers, capabilities, VM + memslot + vCPUs, the register cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "vmm.h"

int kvm_try(int fd, unsigned long req, void *arg)
{
	int r = ioctl(fd, req, arg);
	return r < 0 ? -errno : r;
}

/* Solo5 / KVM-selftests style: a failing ioctl a correct VMM depends on means
 * this host's KVM cannot run us; say which ioctl and with what, and stop. */
int kvm_check_(int fd, unsigned long req, void *arg, const char *name, const char *fmt, ...)
{
	int r = kvm_try(fd, req, arg);
	if (r >= 0)
		return r;
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmm: ioctl %s (%s) failed: %s\n", name, what, strerror(-r));
	exit(VMM_EXIT_NO_KVM);
}

/* Capabilities relied on.  `need` ones refuse the host; others set a flag. */
struct cap_desc {
	long cap;
	const char *name;
	bool need;
	size_t flag; /* offsetof in struct vm_caps, or SIZE_MAX */
};

#define NOFLAG ((size_t)-1)
static const struct cap_desc caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", true, NOFLAG },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", true, NOFLAG },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", false,
	  offsetof(struct vm_caps, immediate_exit) },
	{ KVM_CAP_GET_TSC_KHZ, "KVM_CAP_GET_TSC_KHZ", false, offsetof(struct vm_caps, tsc_khz) },
	{ KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS", false, offsetof(struct vm_caps, vcpu_events) },
	{ KVM_CAP_SYNC_REGS, "KVM_CAP_SYNC_REGS", false, offsetof(struct vm_caps, sync_regs) },
};

static int check_caps(struct vm *vm)
{
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		int r = kvm_try(vm->kvm_fd, KVM_CHECK_EXTENSION, (void *)caps[i].cap);
		bool have = r > 0;
		if (caps[i].need && !have) {
			fprintf(stderr, "vmm: /dev/kvm lacks %s\n", caps[i].name);
			return VMM_EXIT_NO_KVM;
		}
		if (caps[i].flag != NOFLAG)
			*(bool *)((char *)&vm->cap + caps[i].flag) = have;
	}
	return 0;
}

/* Create vCPU `id`, map its kvm_run. */
static int vcpu_create(struct vm *vm, unsigned id)
{
	struct vcpu *v = &vm->vcpus[id];
	v->fd = KVM_CHECK(vm->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id, "vcpu id %u", id);
	void *p = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "vmm: mmap of vcpu %u's kvm_run (%zu bytes) failed: %s\n", id, vm->run_size,
			strerror(errno));
		return VMM_EXIT_NO_KVM;
	}
	v->run = p;
	return 0;
}

int kvm_setup(struct vm *vm, unsigned nvcpus, bool irqchip)
{
	vm->kvm_fd = vm->vm_fd = -1;
	vm->nvcpus = 0;
	for (unsigned i = 0; i < VMM_MAX_VCPUS; i++)
		vm->vcpus[i] = (struct vcpu){ .vm = vm, .id = i, .fd = -1, .stats_fd = -1 };
	if (nvcpus == 0 || nvcpus > VMM_MAX_VCPUS) {
		fprintf(stderr, "vmm: %u vCPUs asked for (1..%d)\n", nvcpus, VMM_MAX_VCPUS);
		return VMM_EXIT_USAGE;
	}
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		fprintf(stderr, "vmm: cannot open /dev/kvm: %s\n", strerror(errno));
		return VMM_EXIT_NO_KVM;
	}
	int api = kvm_try(vm->kvm_fd, KVM_GET_API_VERSION, NULL);
	if (api < 0) {
		fprintf(stderr, "vmm: /dev/kvm: KVM_GET_API_VERSION failed: %s\n", strerror(-api));
		return VMM_EXIT_NO_KVM;
	}
	if (api != KVM_API_VERSION) {
		fprintf(stderr, "vmm: /dev/kvm API version %d, need %d\n", api, KVM_API_VERSION);
		return VMM_EXIT_NO_KVM;
	}
	int st = check_caps(vm);
	if (st)
		return st;
	vm->vm_fd = kvm_try(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		fprintf(stderr, "vmm: KVM_CREATE_VM failed: %s\n", strerror(-vm->vm_fd));
		vm->vm_fd = -1;
		return VMM_EXIT_NO_KVM;
	}
	struct kvm_userspace_memory_region slot = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = vm->mem.size,
		.userspace_addr = (uint64_t)(uintptr_t)vm->mem.base,
	};
	KVM_CHECK(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot,
		  "slot 0, gpa 0x0, size 0x%llx, host %p", (unsigned long long)slot.memory_size,
		  (void *)vm->mem.base);
	/* The guest's CPUs talk through their LAPICs (the timer that preempts
	 * it, IPIs): KVM's in-kernel irqchip, created before any vCPU, for one
	 * CPU as for sixteen.  A HLT then stays inside KVM until an interrupt.
	 * (The --probe guest, which halts to say it is done, runs without.) */
	vm->irqchip = irqchip;
	if (irqchip)
		KVM_CHECK(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL, "%u vCPUs", nvcpus);
	int sz = KVM_CHECK(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL, "-");
	if ((size_t)sz < sizeof(struct kvm_run)) {
		fprintf(stderr, "vmm: KVM_GET_VCPU_MMAP_SIZE %d is smaller than struct kvm_run\n", sz);
		return VMM_EXIT_NO_KVM;
	}
	vm->run_size = (size_t)sz;
	for (unsigned i = 0; i < nvcpus; i++) {
		vm->nvcpus = i + 1; /* teardown closes what exists */
		if ((st = vcpu_create(vm, i)))
			return st;
	}
	return 0;
}

void kvm_teardown(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (v->run)
			munmap(v->run, vm->run_size);
		v->run = NULL;
		if (v->stats_fd >= 0)
			close(v->stats_fd);
		if (v->fd >= 0)
			close(v->fd);
		v->fd = v->stats_fd = -1;
	}
	vm->nvcpus = 0;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
}

/* ---- registers, cached between two KVM_RUNs --------------------------------- */

const struct kvm_regs *vcpu_regs(struct vcpu *v)
{
	if (!v->have_regs && kvm_try(v->fd, KVM_GET_REGS, &v->regs) == 0)
		v->have_regs = true;
	return v->have_regs ? &v->regs : NULL;
}

const struct kvm_sregs *vcpu_sregs(struct vcpu *v)
{
	if (!v->have_sregs && kvm_try(v->fd, KVM_GET_SREGS, &v->sregs) == 0)
		v->have_sregs = true;
	return v->have_sregs ? &v->sregs : NULL;
}

void vcpu_set_sregs(struct vcpu *v, const struct kvm_sregs *s)
{
	struct kvm_sregs copy = *s;
	KVM_CHECK(v->fd, KVM_SET_SREGS, &copy, "vcpu %u: cr0 0x%llx cr3 0x%llx cr4 0x%llx efer 0x%llx", v->id,
		  (unsigned long long)s->cr0, (unsigned long long)s->cr3, (unsigned long long)s->cr4,
		  (unsigned long long)s->efer);
	v->sregs = copy;
	v->have_sregs = true;
}

void vcpu_forget_regs(struct vcpu *v)
{
	v->have_regs = v->have_sregs = false;
}

int vcpu_translate(struct vcpu *v, uint64_t gva, uint64_t *gpa)
{
	struct kvm_translation t = { .linear_address = gva };
	if (kvm_try(v->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
		return -1;
	*gpa = t.physical_address;
	return 0;
}
