/* vmm/sandbox.h — the sandbox module: the seccomp filter the VMM puts itself under once the VM is set up (--no-seccomp). */
#ifndef COWVMM_SANDBOX_H
#define COWVMM_SANDBOX_H

#include <stdbool.h>

struct vm;

/* Put the filter in force for this VM's descriptors (its vCPUs', its own,
 * stdio): what the module's boot stage does.  0, or VMM_EXIT_NO_KVM after
 * a message.  Irreversible: for the VMM, and for a test's child process. */
int sandbox_confine(struct vm *vm);
/* The filter is in force (sandbox_confine() succeeded). */
bool sandbox_loaded(const struct vm *vm);

#endif /* COWVMM_SANDBOX_H */
