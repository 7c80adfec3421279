/* guest/kernel/kbench.c — SYS_bench (guest/include/bench.h): a sample ring in kernel memory, fault-handler timing, HC_BENCH to the VMM. */
#include "bench.h"
#include "kbench.h"
#include "mm.h"
#include "spinlock.h"
#include "syscalls.h"

/* The ring lives in the kernel image, so it is one physically contiguous
 * block the VMM can take in a single HC_BENCH phase 2 (guest-physical address
 * = image address - COWVMM_KERNEL_BASE).  512 KiB: a full cowbench run fits. */
#define KBENCH_RING 32768u

static struct cowvmm_sample ring[KBENCH_RING];
static uint64_t nring, dropped;
struct kbench_state kbench;

/* Hypercall arguments must live in the kernel image. */
static struct cowvmm_hc_bench hc;

static void hc_phase(uint32_t phase, uint64_t gpa, uint64_t count)
{
	hc.samples_gpa = gpa;
	hc.count = count;
	hc.phase = phase;
	hc.reserved = 0;
	hypercall(COWVMM_HC_BENCH, &hc);
}

/* The ring's fill level, with several CPUs timing faults at once. */
static struct spinlock kbench_lock = SPINLOCK_INIT("kbench");

void kbench_exit_slow(const struct kbench_mark *m, uint64_t t1)
{
	uint32_t ev = mycpu()->fault_ev;
	if (ev == KBENCH_EV_NONE)
		return; /* some other fault (demand fill, spurious, kill): not timed */
	spin_lock(&kbench_lock);
	if (nring == KBENCH_RING)
		dropped++;
	else
		ring[nring++] = (struct cowvmm_sample){ .event = ev, .arg = kbench.arg, .ticks = t1 - m->t0 };
	spin_unlock(&kbench_lock);
}

/* Append user samples, checking each: the VMM refuses unknown events. */
static long push(uint64_t usrc, uint64_t count)
{
	struct cowvmm_sample s;
	if (count > KBENCH_RING - __atomic_load_n(&nring, __ATOMIC_RELAXED))
		return -ENOMEM; /* all or nothing, unless faults on other CPUs fill it meanwhile */
	for (uint64_t i = 0; i < count; i++) {
		/* one at a time: the copy may fault, and faults take locks that
		 * come before kbench_lock */
		if (copy_from_user(&s, usrc + i * sizeof(s), sizeof(s)) != 0)
			return -EFAULT;
		if (s.event >= COWVMM_EV_COUNT)
			return -EINVAL;
		spin_lock(&kbench_lock);
		int full = nring == KBENCH_RING;
		if (!full)
			ring[nring++] = s;
		spin_unlock(&kbench_lock);
		if (full)
			return i ? (long)i : -ENOMEM;
	}
	return (long)count;
}

long kbench_syscall(int op, uint64_t a, uint64_t b)
{
	uint64_t label = (a & 0xffffffffu) | (b << 32);
	long n;
	switch (op) {
	case BENCH_OP_BEGIN:
		hc_phase(0, 0, label);
		return 0;
	case BENCH_OP_END:
		hc_phase(1, 0, label);
		return 0;
	case BENCH_OP_ARM:
		/* Write each free page of the ring once now: the first guest
		 * write to a page the guest never touched is a stage-2 (NPT/EPT)
		 * fault, a VM exit, which must not land inside a timed loop. */
		if (a)
			for (uint64_t i = nring; i < KBENCH_RING; i += PAGE_SIZE / sizeof(ring[0]))
				((volatile struct cowvmm_sample *)ring)[i].event = 0;
		kbench.arg = (uint32_t)b;
		kbench.armed = a != 0;
		return 0;
	case BENCH_OP_PUSH:
		return push(a, b);
	case BENCH_OP_FLUSH:
		n = (long)nring;
		hc_phase(2, virt_to_phys(ring), nring);
		nring = 0;
		return n;
	case BENCH_OP_INFO:
		return (long)(KBENCH_RING | (MIN(dropped, 0x7fffffffu) << 32));
	default:
		return -EINVAL;
	}
}

SYSCALL(bench)
{
	UNUSED_ARGS();
	return kbench_syscall((int)a0, a1, a2);
}
