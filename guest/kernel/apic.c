/* guest/kernel/apic.c — this CPU's local APIC in x2APIC mode (MSRs, no MMIO page): enabled, with a spurious vector, nothing else yet. */
#include "kernel.h"
#include "cpu.h"
#include "x86.h"

/* Only the kernel programs the LAPIC, so these stay out of cowvmm/x86.h. */
#define MSR_APIC_BASE 0x1bu
#define APIC_BASE_EXTD (1ull << 10) /* x2APIC mode: registers are MSRs 0x800.. */
#define APIC_BASE_EN (1ull << 11)   /* APIC globally enabled */
#define MSR_X2APIC_ID 0x802u
#define MSR_X2APIC_SVR 0x80fu       /* spurious-interrupt vector register */
#define APIC_SVR_ENABLE (1u << 8)   /* software enable: without it the APIC delivers nothing */
#define CPUID1_ECX_X2APIC (1u << 21)

/*
 * With several CPUs the VMM gives each vCPU KVM's in-kernel LAPIC and
 * advertises x2APIC with the vCPU's index as its ID (abi.h, boot handshake).
 * Going straight from whatever mode the APIC is in (disabled, or xAPIC on
 * CPU 0) to x2APIC by setting EN and EXTD together is an allowed transition.
 * The spurious vector must have an IDT entry: idt_init gives it a bare iretq.
 * Anything unexpected panics: an AP with the wrong ID would answer another
 * CPU's IPIs.
 */
void x2apic_enable(struct cpu *c)
{
	uint32_t a, b, ecx, d;
	cpuid(1, &a, &b, &ecx, &d);
	if (!(ecx & CPUID1_ECX_X2APIC))
		panic("cpu %u: CPUID.1:ECX has no x2APIC bit (the VMM sets it with more than one CPU)", c->id);
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN | APIC_BASE_EXTD);
	uint64_t id = rdmsr(MSR_X2APIC_ID);
	if (id != c->id)
		panic("cpu %u: x2APIC ID is %lu (the VMM gives vCPU i the ID i)", c->id, id);
	wrmsr(MSR_X2APIC_SVR, APIC_SVR_ENABLE | APIC_SPURIOUS_VECTOR);
}
