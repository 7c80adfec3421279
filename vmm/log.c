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
	return VMM_EXIT_CRASH;
}
