/* vmm/dump.c — register and code dump of the vCPU for every abnormal end of a run. */
#include <stdio.h>
#include <string.h>

#include <linux/kvm.h>

#include "vmm.h"

#define CODE_BYTES 16

void dump_code(struct vcpu *v, uint64_t rip)
{
	char line[3 * CODE_BYTES + 64];
	int len = snprintf(line, sizeof line, "vmm: code at RIP:");
	int shown = 0;
	/* Translate page by page: the bytes may straddle a page boundary. */
	for (uint64_t va = rip; shown < CODE_BYTES;) {
		uint64_t gpa;
		if (vcpu_translate(v, va, &gpa) < 0)
			break;
		uint64_t room = COWVMM_PAGE_SIZE - (va & (COWVMM_PAGE_SIZE - 1));
		uint64_t want = (uint64_t)(CODE_BYTES - shown) < room ? (uint64_t)(CODE_BYTES - shown) : room;
		const uint8_t *p = gmem_ptr(&v->vm->mem, gpa, want);
		if (!p)
			break;
		for (uint64_t i = 0; i < want; i++)
			len += snprintf(line + len, sizeof line - (size_t)len, " %02x", p[i]);
		shown += (int)want;
		va += want;
	}
	if (!shown)
		snprintf(line + len, sizeof line - (size_t)len, " (0x%llx not mapped to RAM)",
			 (unsigned long long)rip);
	fprintf(stderr, "%s\n", line);
}

void dump_vcpu(struct vcpu *v)
{
	char sym[160];
	if (v->fd < 0)
		return;
	const struct kvm_regs *r = vcpu_regs(v);
	if (!r) {
		fprintf(stderr, "vmm: (registers of vcpu %u unavailable)\n", v->id);
		return;
	}
	if (v->vm->nvcpus > 1)
		fprintf(stderr, "vmm: vcpu %u:\n", v->id);
	fprintf(stderr, "vmm: RIP: 0x%016llx <%s>\n", r->rip, sym_lookup(&v->vm->kernel, r->rip, sym, sizeof sym));
	fprintf(stderr, "vmm: RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", r->rax, r->rbx, r->rcx, r->rdx);
	fprintf(stderr, "vmm: RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n", r->rsi, r->rdi, r->rbp, r->rsp);
	fprintf(stderr, "vmm: R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n", r->r8, r->r9, r->r10, r->r11);
	fprintf(stderr, "vmm: R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n", r->r12, r->r13, r->r14, r->r15);
	fprintf(stderr, "vmm: RFLAGS=%016llx\n", r->rflags);
	const struct kvm_sregs *s = vcpu_sregs(v);
	if (s) {
		fprintf(stderr, "vmm: CS=%04x SS=%04x DS=%04x CPL=%u\n", s->cs.selector, s->ss.selector,
			s->ds.selector, s->cs.dpl);
		fprintf(stderr, "vmm: CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx EFER=%016llx\n",
			s->cr0, s->cr2, s->cr3, s->cr4, s->efer);
		fprintf(stderr, "vmm: GDT=%016llx/%04x IDT=%016llx/%04x\n", s->gdt.base, s->gdt.limit,
			s->idt.base, s->idt.limit);
	}
	dump_code(v, r->rip);
}
