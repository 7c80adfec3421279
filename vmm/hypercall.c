/* vmm/hypercall.c — the hypercall table: registration by modules, argument checking, dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm.h"

/* Names as the ABI spells them (abi.h), for messages about a hypercall
 * nobody registered. */
static const char *const hc_names[COWVMM_HC_COUNT] = {
	[COWVMM_HC_CONSOLE] = "CONSOLE", [COWVMM_HC_EXIT] = "EXIT", [COWVMM_HC_ASSERT] = "ASSERT",
	[COWVMM_HC_CRASH] = "CRASH", [COWVMM_HC_DESCRIBE] = "DESCRIBE", [COWVMM_HC_INSPECT] = "INSPECT",
	[COWVMM_HC_BENCH] = "BENCH", [COWVMM_HC_INJECT] = "INJECT",
};

void vm_register_hypercall(struct vm *vm, unsigned nr, size_t arg_size, vm_hypercall_fn fn)
{
	if (nr >= COWVMM_HC_COUNT || vm->hc[nr].fn || !fn || arg_size == 0) {
		fprintf(stderr, "vmm: internal error: hypercall %u registered twice or out of range\n", nr);
		abort();
	}
	vm->hc[nr] = (struct vm_hypercall){ hc_names[nr], arg_size, fn };
}

int hypercall_dispatch(struct vcpu *v, unsigned nr, uint64_t gpa)
{
	if (nr >= COWVMM_HC_COUNT || !hc_names[nr])
		return vm_guest_error(v, "unknown hypercall %u", nr);
	const struct vm_hypercall *h = &v->vm->hc[nr];
	/* The guest learns plainly that this VMM cannot do it: no fake results. */
	if (!h->fn)
		return vm_guest_error(v, "unsupported hypercall %s (not built into this VMM)", hc_names[nr]);
	/* Structs hold uint64_t fields: insist on natural alignment. */
	void *arg = gpa % 8 ? NULL : gmem_ptr(&v->vm->mem, gpa, h->arg_size);
	if (!arg)
		return vm_guest_error(v, "hypercall %s: bad argument address 0x%llx (%zu bytes)",
				      h->name, (unsigned long long)gpa, h->arg_size);
	return h->fn(v, arg);
}
