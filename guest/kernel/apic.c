/* guest/kernel/apic.c — this CPU's local APIC in x2APIC mode (MSRs, no MMIO page): enable, the periodic timer, EOI, IPIs. */
#include "kernel.h"
#include "cpu.h"
#include "x86.h"

/* Only the kernel programs the LAPIC, so these stay out of cowvmm/x86.h. */
#define MSR_APIC_BASE 0x1bu
#define APIC_BASE_EXTD (1ull << 10) /* x2APIC mode: registers are MSRs 0x800.. */
#define APIC_BASE_EN (1ull << 11)   /* APIC globally enabled */
#define MSR_X2APIC_ID 0x802u
#define MSR_X2APIC_EOI 0x80bu
#define MSR_X2APIC_SVR 0x80fu       /* spurious-interrupt vector register */
#define MSR_X2APIC_ICR 0x830u       /* interrupt command: destination in bits 63:32 */
#define MSR_X2APIC_LVT_TIMER 0x832u
#define MSR_X2APIC_TIMER_INIT 0x838u
#define MSR_X2APIC_TIMER_DIV 0x83eu
#define APIC_SVR_ENABLE (1u << 8)   /* software enable: without it the APIC delivers nothing */
#define APIC_LVT_PERIODIC (1u << 17)
#define APIC_ICR_ASSERT (1u << 14)
#define APIC_DIV_16 0x3u
#define CPUID1_ECX_X2APIC (1u << 21)
/* KVM's LAPIC timer counts at 1 GHz (its APIC bus cycle is 1 ns unless a VMM
 * changes it with KVM_CAP_X86_APIC_BUS_CYCLES_NS, which ours does not):
 * divided by 16, 125 counts per 2 microseconds, exactly. */
#define APIC_TIMER_COUNT(us) ((uint64_t)(us) * 125u / 2u)

int have_apic;

/*
 * The VMM gives every vCPU KVM's in-kernel LAPIC and advertises x2APIC with
 * the vCPU's index as its ID (abi.h, boot handshake).  Going straight from
 * whatever mode the APIC is in (disabled, or xAPIC on CPU 0) to x2APIC by
 * setting EN and EXTD together is an allowed transition.  The spurious vector
 * has an IDT entry (a bare iretq).  Anything unexpected panics: an AP with the
 * wrong ID would answer another CPU's IPIs.  Then the timer starts: periodic,
 * one tick per TIMER_PERIOD_US.
 */
void x2apic_enable(struct cpu *c)
{
	uint32_t a, b, ecx, d;
	cpuid(1, &a, &b, &ecx, &d);
	if (!(ecx & CPUID1_ECX_X2APIC))
		panic("cpu %u: CPUID.1:ECX has no x2APIC bit (the VMM sets it with its irqchip)", c->id);
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN | APIC_BASE_EXTD);
	uint64_t id = rdmsr(MSR_X2APIC_ID);
	if (id != c->id)
		panic("cpu %u: x2APIC ID is %lu (the VMM gives vCPU i the ID i)", c->id, id);
	wrmsr(MSR_X2APIC_SVR, APIC_SVR_ENABLE | APIC_SPURIOUS_VECTOR);
	if (kbug(KBUG_NO_TIMER))
		return;
	wrmsr(MSR_X2APIC_TIMER_DIV, APIC_DIV_16);
	wrmsr(MSR_X2APIC_LVT_TIMER, APIC_LVT_PERIODIC | TIMER_VECTOR);
	wrmsr(MSR_X2APIC_TIMER_INIT, APIC_TIMER_COUNT(TIMER_PERIOD_US));
}

void apic_eoi(void)
{
	wrmsr(MSR_X2APIC_EOI, 0);
}

/* A fixed interrupt to one CPU (physical destination = its x2APIC ID). */
void apic_send_ipi(uint32_t cpu, uint8_t vector)
{
	wrmsr(MSR_X2APIC_ICR, ((uint64_t)cpu << 32) | APIC_ICR_ASSERT | vector);
}
