/* vmm/books_hc.c — HC_DESCRIBE: the guest says once, at boot, where its books are; the VMM checks and keeps a copy. */
#include <string.h>

#include "books.h"
#include "vmm.h"

static const struct vmm_module books_module;

const struct books *vm_books(const struct vm *vm)
{
	return vm_state(vm, &books_module);
}

static int hc_describe(struct vcpu *v, void *argp)
{
	struct books *b = vm_state(v->vm, &books_module);
	struct cowvmm_hc_describe d;
	char why[200];
	memcpy(&d, argp, sizeof d); /* one read: the guest cannot change it under us */
	if (b->valid)
		return vm_guest_error(v, "hypercall DESCRIBE: sent twice");
	if (describe_validate(&d, v->vm->mem.size, why, sizeof why))
		return vm_guest_error(v, "hypercall DESCRIBE: invalid descriptor: %s", why);
	books_init(b, &v->vm->mem, &d);
	return VMM_CONTINUE;
}

static int books_setup(struct vm *vm)
{
	vm_register_hypercall(vm, COWVMM_HC_DESCRIBE, sizeof(struct cowvmm_hc_describe), hc_describe);
	return 0;
}

static const struct vmm_module books_module = {
	.name = "books",
	.order = 5,
	.state_size = sizeof(struct books),
	.setup = books_setup,
};
VMM_MODULE(books_module);
