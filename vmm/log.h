/* vmm/log.h — what the VMM says: informational notes, guest errors with the vCPU's registers, register and code dumps. */
#ifndef COWVMM_LOG_H
#define COWVMM_LOG_H

#include <stdint.h>

struct vm;
struct vcpu;

/* "vmm: ..." on stderr unless -q (guest console output flushed first). */
void vm_note(const struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "vmm: guest error: <msg>" and the vCPU's registers; returns VMM_EXIT_CRASH. */
int vm_guest_error(struct vcpu *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* dump.c: the vCPU's registers (RIP symbolized) and the code bytes at RIP, to
 * stderr, each line prefixed "vmm: " (and the vCPU's id when there are
 * several). */
void dump_vcpu(struct vcpu *v);
/* Every other started vCPU's registers (the world stopped meanwhile). */
void dump_other_vcpus(struct vcpu *v);
/* Code bytes at guest virtual `rip`, translated through the vCPU's tables. */
void dump_code(struct vcpu *v, uint64_t rip);

#endif /* COWVMM_LOG_H */
