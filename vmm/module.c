/* vmm/module.c — the module registry: a linker set of struct vmm_module, ordered, with per-run state in the VM. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmm.h"

/* The linker gathers every VMM_MODULE() pointer into section "vmm_modules"
 * and defines its bounds (as Solo5's hvt and the Linux kernel's initcalls
 * do): adding a module is adding a file, the core never names one.  A NULL
 * entry of our own keeps the section present when no module is linked (unit
 * tests). */
static const struct vmm_module *const no_module
	__attribute__((section("vmm_modules"), used, aligned(sizeof(void *)))) = NULL;
extern const struct vmm_module *const __start_vmm_modules[];
extern const struct vmm_module *const __stop_vmm_modules[];

int vm_modules_init(struct vm *vm)
{
	(void)no_module;
	vm->nmods = 0;
	for (const struct vmm_module *const *p = __start_vmm_modules; p < __stop_vmm_modules; p++) {
		if (!*p)
			continue;
		if (vm->nmods == VMM_MAX_MODULES) {
			fprintf(stderr, "vmm: more than %d modules linked in (VMM_MAX_MODULES)\n", VMM_MAX_MODULES);
			abort();
		}
		/* Insertion by order; equal orders keep link order. */
		size_t i = vm->nmods++;
		while (i > 0 && vm->mods[i - 1]->order > (*p)->order) {
			vm->mods[i] = vm->mods[i - 1];
			i--;
		}
		vm->mods[i] = *p;
	}
	for (size_t i = 0; i < vm->nmods; i++) {
		size_t sz = vm->mods[i]->state_size;
		vm->mod_state[i] = sz ? calloc(1, sz) : NULL;
		if (sz && !vm->mod_state[i]) {
			while (i-- > 0)
				free(vm->mod_state[i]);
			vm->nmods = 0;
			return -ENOMEM;
		}
	}
	return 0;
}

void vm_modules_free(struct vm *vm)
{
	for (size_t i = vm->nmods; i-- > 0;)
		if (vm->mods[i]->teardown)
			vm->mods[i]->teardown(vm);
	for (size_t i = 0; i < vm->nmods; i++) {
		free(vm->mod_state[i]);
		vm->mod_state[i] = NULL;
	}
	vm->nmods = 0;
}

void *vm_state(const struct vm *vm, const struct vmm_module *m)
{
	for (size_t i = 0; i < vm->nmods; i++)
		if (vm->mods[i] == m)
			return vm->mod_state[i];
	return NULL;
}
