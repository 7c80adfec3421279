/* vmm/log.c — the VMM's messages: notes (not with -q) and guest errors with the offending vCPU's registers. */
#include <stdarg.h>
#include <stdio.h>

#include "vmm.h"

void vm_note(const struct vm *vm, const char *fmt, ...)
{
	va_list ap;
	if (vm->quiet)
		return;
	fflush(stdout); /* the guest's console output first */
	fputs("vmm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int vm_guest_error(struct vcpu *v, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout); /* the guest's console output first, then why it ended */
	fputs("vmm: guest error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	dump_vcpu(v);
	dump_other_vcpus(v);
	return VMM_EXIT_CRASH;
}

/* With several vCPUs, what each of the others was doing: stopped first
 * (KVM will not hand over the registers of a vCPU inside KVM_RUN). */
void dump_other_vcpus(struct vcpu *v)
{
	struct vm *vm = v->vm;
	bool others = false;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		others |= &vm->vcpus[i] != v && vm->vcpus[i].started;
	if (!others)
		return;
	world_stop(&vm->world, v);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (&vm->vcpus[i] != v && vm->vcpus[i].started)
			dump_vcpu(&vm->vcpus[i]);
	world_resume(&vm->world, v);
}
