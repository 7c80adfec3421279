/* vmm/hypercall.c — the hypercall table: registration by modules, argument checking, dispatch. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowvmm/names.h"
#include "vmm.h"

/* "INSPECT" for a message: the shared name, upper-cased (the ABI's spelling). */
static const char *hc_name(unsigned nr, char buf[16])
{
	const char *n = cowvmm_hypercall_name(nr);
	size_t i = 0;
	for (; n[i] && i < 15; i++)
		buf[i] = (char)toupper((unsigned char)n[i]);
	buf[i] = 0;
	return buf;
}

void vm_register_hypercall(struct vm *vm, unsigned nr, size_t arg_size, vm_hypercall_fn fn)
{
	if (nr >= COWVMM_HC_COUNT || vm->hc[nr].fn || !fn || arg_size == 0) {
		fprintf(stderr, "vmm: internal error: hypercall %u registered twice or out of range\n", nr);
		abort();
	}
	vm->hc[nr] = (struct vm_hypercall){ arg_size, fn, false };
}

void vm_hypercall_stops_world(struct vm *vm, unsigned nr)
{
	if (nr >= COWVMM_HC_COUNT || !vm->hc[nr].fn) {
		fprintf(stderr, "vmm: internal error: hypercall %u not registered\n", nr);
		abort();
	}
	vm->hc[nr].stop_world = true;
}

int hypercall_dispatch(struct vcpu *v, unsigned nr, uint64_t gpa)
{
	char name[16];
	if (nr >= COWVMM_HC_COUNT)
		return vm_guest_error(v, "unknown hypercall %u", nr);
	const struct vm_hypercall *h = &v->vm->hc[nr];
	/* The guest learns plainly that this VMM cannot do it: no fake results. */
	if (!h->fn)
		return vm_guest_error(v, "unsupported hypercall %s (not built into this VMM)", hc_name(nr, name));
	/* Structs hold uint64_t fields: insist on natural alignment. */
	void *arg = gpa % 8 ? NULL : gmem_ptr(&v->vm->mem, gpa, h->arg_size);
	if (!arg)
		return vm_guest_error(v, "hypercall %s: bad argument address 0x%llx (%zu bytes)",
				      hc_name(nr, name), (unsigned long long)gpa, h->arg_size);
	vm_busy(v->vm, cowvmm_hypercall_name(nr));
	if (h->stop_world)
		world_stop(&v->vm->world, v);
	int r = h->fn(v, arg);
	if (h->stop_world)
		world_resume(&v->vm->world, v);
	vm_busy(v->vm, NULL);
	return r;
}
