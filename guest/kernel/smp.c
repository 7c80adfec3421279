/* guest/kernel/smp.c — the other CPUs: the boot CPU starts each one with HC_CPU_START and waits until it is online; each comes up in ap_main and idles. */
#include "kernel.h"
#include "cpu.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

/* How long the boot CPU waits for a CPU it started.  Natively that takes
 * microseconds; under QEMU's emulation, with fewer host CPUs than vCPUs, the
 * new vCPU's thread may first wait for the spinning boot CPU's time slice to
 * end.  A CPU that is not up after this is stuck, not slow. */
#define CPU_START_TIMEOUT_MS 5000u
/* boot_info.tsc_khz is 0 when the VMM does not know the TSC rate: assume a
 * fast TSC, so the wait lasts at least the timeout on any slower one. */
#define TSC_KHZ_UNKNOWN 4000000u

_Noreturn void ap_main(struct cpu *c, uint64_t cpu);

/*
 * An AP's first instruction.  The VMM started it (HC_CPU_START) in 64-bit
 * mode on its boot GDT, on the kernel's page tables, with interrupts off and
 * RDI = its struct cpu, RSI = its index, RSP = the entry stack smp_init gave
 * it.  Nothing of ours is loaded yet: no GDT, TSS or IDT (an exception now is
 * a triple fault), but a panic goes out by hypercall all the same.
 */
_Noreturn void ap_main(struct cpu *c, uint64_t cpu)
{
	if (cpu == 0 || cpu >= ncpus || c != &cpus[cpu])
		panic("smp: cpu %lu entered ap_main with cpu struct %p", cpu, (void *)c);
	KASSERT(c->id == cpu && !c->online);
	cpu_init(c);
	x2apic_enable(c);
	__atomic_store_n(&c->online, 1, __ATOMIC_RELEASE);
	/* Its scheduler loop, on this entry stack, from now on: it idles (HLT
	 * stays inside KVM with the in-kernel irqchip: no exit) until a tick or
	 * a wake-up IPI finds work. */
	scheduler_start();
}

/* A zeroed page of the allocator's, pinned (the VMM's audit counts it as a
 * kernel page), as one of this CPU's stacks; returns its top.  No guard page:
 * the scheduler loop's stack holds a few frames only (processes run on their
 * own kernel stacks, which have guards). */
static uint8_t *stack_page(const struct cpu *c, const char *what)
{
	uint64_t pa = kpage_alloc(-1);
	if (!pa)
		panic("smp: no memory for cpu %u's %s stack", c->id, what);
	return (uint8_t *)phys_to_virt(pa) + CPU_STACK_SIZE;
}

/* Start one AP and wait (bounded) until it says it is online. */
static void start_cpu(struct cpu *c, uint64_t tsc_khz)
{
	c->df_stack_top = stack_page(c, "#DF");
	c->nmi_stack_top = stack_page(c, "NMI");
	c->kstack_top = stack_page(c, "scheduler");
	/* Enter ap_main as if it had been called: RSP 8 below a 16-byte
	 * boundary (the C ABI's alignment at a function's first instruction),
	 * on a null return address (the page is zeroed). */
	hc_cpu_start(c->id, (uint64_t)ap_main, (uint64_t)(c->kstack_top - 8), (uint64_t)c, kernel_pml4_pa);

	uint64_t t0 = rdtsc(), limit = tsc_khz * CPU_START_TIMEOUT_MS;
	while (!__atomic_load_n(&c->online, __ATOMIC_ACQUIRE)) {
		if (rdtsc() - t0 > limit)
			panic("smp: cpu %u not online %u ms after HC_CPU_START", c->id, CPU_START_TIMEOUT_MS);
		sched_point(COWVMM_SP_WAIT, 0);
		cpu_relax();
	}
}

/* On the boot CPU, after its own setup and before the first process.  One at
 * a time, so a CPU that does not come up is named. */
void smp_init(void)
{
	/* 0: a VMM from before SMP, which always made one CPU. */
	unsigned n = boot.ncpus ? boot.ncpus : 1;
	if (n > COWVMM_MAX_CPUS)
		panic("smp: the VMM made %u CPUs; this kernel runs at most %u (COWVMM_MAX_CPUS)", n, COWVMM_MAX_CPUS);
	ncpus = n;
	__atomic_store_n(&cpus[0].online, 1, __ATOMIC_RELEASE);
	/* The VMM always gives us its in-kernel irqchip (x2APIC in CPUID); one
	 * that does not can still run a single CPU, without a timer. */
	uint32_t a, b, ecx, d;
	cpuid(1, &a, &b, &ecx, &d);
	have_apic = (ecx >> 21) & 1;
	if (!have_apic && n > 1)
		panic("smp: %u CPUs but no x2APIC in CPUID (the VMM's irqchip is missing)", n);
	if (have_apic)
		x2apic_enable(&cpus[0]);
	if (n == 1)
		return; /* not a line printed: the one-CPU console is what it always was */
	for (unsigned i = 1; i < n; i++) {
		cpus[i].id = i;
		start_cpu(&cpus[i], boot.tsc_khz ? boot.tsc_khz : TSC_KHZ_UNKNOWN);
	}
	unsigned online = 0;
	for (unsigned i = 0; i < n; i++)
		online += __atomic_load_n(&cpus[i].online, __ATOMIC_ACQUIRE);
	KASSERT(online == n);
	kprintf("smp: %u CPUs online\n", online);
}
