/* guest/kernel/hypercall.c — talking to the VMM: port-I/O hypercalls, console, exit, assertion reports, discovery, starting CPUs, checkpoints. */
#include "kernel.h"
#include "mm.h"
#include "proc.h"
#include "spinlock.h"
#include "cpu.h"
#include "x86.h"

extern char __kernel_start[], __kernel_end[];

/* Statics of the image are linked at KERNEL_BASE + their physical address;
 * run-time allocations live in the direct map. */
uint64_t virt_to_phys(const void *va)
{
	uint64_t v = (uint64_t)va;
	if (v >= COWVMM_KERNEL_BASE)
		return v - COWVMM_KERNEL_BASE;
	KASSERT(v >= COWVMM_DIRECT_MAP_BASE && v < COWVMM_DIRECT_MAP_BASE + boot.ram_size);
	return v - COWVMM_DIRECT_MAP_BASE;
}

void hypercall(unsigned nr, void *arg)
{
	outl((uint16_t)(COWVMM_HC_PORT_BASE + nr), (uint32_t)virt_to_phys(arg));
}

/* The dying CPU's own argument blocks; cpus[0]'s when even GS.base is not
 * the kernel's (crash reports must get out whatever the state). */
struct cpu *dying_cpu(void)
{
	struct cpu *c = mycpu_safe();
	return c ? c : &cpus[0];
}

_Noreturn void hc_exit(uint64_t status)
{
	struct cowvmm_hc_exit *e = &dying_cpu()->hc_exit;
	e->status = status;
	hypercall(COWVMM_HC_EXIT, e);
	halt_forever();
}

_Noreturn void assert_fail(const char *file, int line, const char *expr)
{
	struct cowvmm_hc_assert *a = &dying_cpu()->hc_assert;
	console_for_crash();
	kprintf("kernel assertion failed at %s:%d: %s\n", file, line, expr);
	a->file_gpa = virt_to_phys(file);
	a->expr_gpa = virt_to_phys(expr);
	a->line = (uint64_t)line;
	hypercall(COWVMM_HC_ASSERT, a);
	halt_forever();
}

/*
 * The console: one buffer and one argument block, under console_lock, so the
 * lines of two CPUs never mix inside one write.  A CPU that crashes must
 * print whatever the lock's state (it may itself hold it, or its holder may
 * be stopped for good): console_for_crash() takes the lock if it can within
 * a short wait and otherwise prints without it.
 */
static struct spinlock console_lock = SPINLOCK_INIT("console");
static char console_buf[COWVMM_CONSOLE_MAX];
static struct cowvmm_hc_console console_hc;
static char kprintf_buf[1024];
static int console_unlocked; /* set for good by a crash: no more locking */

static void console_put(const char *buf, uint64_t len)
{
	while (len) {
		uint64_t n = MIN(len, (uint64_t)sizeof(console_buf));
		memcpy(console_buf, buf, n);
		console_hc.buf_gpa = virt_to_phys(console_buf);
		console_hc.len = n;
		hypercall(COWVMM_HC_CONSOLE, &console_hc);
		buf += n;
		len -= n;
	}
}

static int console_enter(void)
{
	if (__atomic_load_n(&console_unlocked, __ATOMIC_RELAXED))
		return 0;
	spin_lock(&console_lock);
	return 1;
}

void console_for_crash(void)
{
	struct cpu *c = mycpu_safe();
	if (!c || (console_lock.locked && console_lock.cpu == (int32_t)c->id)) {
		__atomic_store_n(&console_unlocked, 1, __ATOMIC_RELAXED);
		return;
	}
	uint64_t t0 = rdtsc(), limit = (boot.tsc_khz ? boot.tsc_khz : 4000000u) * 100u; /* ~100 ms */
	while (!spin_trylock(&console_lock))
		if (rdtsc() - t0 > limit)
			break;
	__atomic_store_n(&console_unlocked, 1, __ATOMIC_RELAXED);
}

void console_write(const char *buf, uint64_t len)
{
	int locked = console_enter();
	console_put(buf, len);
	if (locked)
		spin_unlock(&console_lock);
}

int kprintf(const char *fmt, ...)
{
	int locked = console_enter();
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(kprintf_buf, sizeof(kprintf_buf), fmt, ap);
	va_end(ap);
	console_put(kprintf_buf, (uint64_t)MIN(n, (int)sizeof(kprintf_buf) - 1));
	if (locked)
		spin_unlock(&console_lock);
	return n;
}

/* Where the VMM finds our process table and frame accounting. */
void describe_to_vmm(void)
{
	static struct cowvmm_hc_describe d;
	memset(&d, 0, sizeof(d));
	d.layout_version = COWVMM_LAYOUT_VERSION;
	d.nproc = NPROC;
	d.proc_table_gpa = virt_to_phys(proctab);
	d.proc.stride = sizeof(struct proc);
	d.proc.off_pid = offsetof(struct proc, pid);
	d.proc.off_ppid = offsetof(struct proc, ppid);
	d.proc.off_state = offsetof(struct proc, state);
	d.proc.off_cr3 = offsetof(struct proc, cr3);
	d.proc.off_name = offsetof(struct proc, name);
	d.proc.off_tgid = offsetof(struct proc, tgid);
	d.refcount_gpa = virt_to_phys(frame_refcount);
	d.nframes = nframes;
	d.first_frame = first_frame;
	d.free_count_gpa = virt_to_phys(&free_frames);
	d.pins_gpa = virt_to_phys(frame_pins);
	d.zero_frame = zero_frame_pa >> PAGE_SHIFT;
	d.kernel_pml4_gpa = kernel_pml4_pa;
	d.stats_gpa = virt_to_phys(&stats);
	/* Regions, so the VMM can tell writable pages from read-only ones. */
	_Static_assert(sizeof(struct region) >= sizeof(struct cowvmm_region) &&
		       offsetof(struct region, prot) == offsetof(struct cowvmm_region, prot) &&
		       PROT_READ == COWVMM_PROT_READ && PROT_WRITE == COWVMM_PROT_WRITE &&
		       PROT_EXEC_K == COWVMM_PROT_EXEC && RK_TEXT == COWVMM_REGION_TEXT &&
		       RK_RODATA == COWVMM_REGION_RODATA && RK_MMAP == COWVMM_REGION_MMAP,
		       "struct region is what abi.h says");
	d.off_regions = offsetof(struct proc, own_mm) + offsetof(struct mm, reg);
	d.off_nregions = offsetof(struct proc, own_mm) + offsetof(struct mm, nreg);
	d.max_regions = NREGION;
	d.region_stride = sizeof(struct region);
	hypercall(COWVMM_HC_DESCRIBE, &d);
}

/* Start vCPU `cpu` in 64-bit mode at rip on stack rsp, with RDI = arg, on
 * page tables cr3 (abi.h, HC_CPU_START).  The VMM returns at once; the new
 * CPU runs on a host thread of its own. */
void hc_cpu_start(uint32_t cpu, uint64_t rip, uint64_t rsp, uint64_t arg, uint64_t cr3)
{
	static struct cowvmm_hc_cpu_start s; /* the boot CPU's alone */
	memset(&s, 0, sizeof(s));
	s.cpu = cpu;
	s.rip = rip;
	s.rsp = rsp;
	s.arg = arg;
	s.cr3 = cr3;
	hypercall(COWVMM_HC_CPU_START, &s);
}

int audit_enabled(void)
{
	return (boot.flags & COWVMM_BOOT_F_AUDIT) != 0;
}

/* A schedule point (vmm --explore): the VMM may run another vCPU before
 * this one goes on.  Interrupts may be on or off; nothing here sleeps. */
int explore_on;

void sched_point_slow(uint32_t point, uint64_t arg)
{
	struct cowvmm_hc_sched *h = &mycpu()->hc_sched;
	h->point = point;
	h->pad = 0;
	h->arg = arg;
	hypercall(COWVMM_HC_SCHED, h);
}

/* A checkpoint: ask the VMM to verify every invariant now (only when it
 * audits: each one is a VM exit), then offer it an inject point (only when it
 * gave us an injection plan).  Returns the audit verdict (0 = fine). */
int checkpoints_wanted;

uint32_t checkpoint_slow(uint32_t cp, int pid, int pid2, uint32_t label,
			 uint64_t va, uint64_t frame_old, uint64_t frame_new)
{
	struct cowvmm_hc_inspect *in = &mycpu()->hc_inspect;
	uint32_t verdict = 0;
	/* With other CPUs running, the VMM must see none of them mid-update. */
	int gate = ncpus > 1 && !audit_gate_owned();
	if (gate)
		audit_gate_close();
	if (audit_enabled()) {
		memset(in, 0, sizeof(*in));
		in->checkpoint = cp;
		in->pid = pid;
		in->pid2 = pid2;
		in->label = label;
		in->va = va;
		in->frame_old = frame_old;
		in->frame_new = frame_new;
		hypercall(COWVMM_HC_INSPECT, in);
		verdict = in->verdict;
	}
	inject_point(cp, pid, va);
	if (gate)
		audit_gate_open();
	return verdict;
}

/* Give the VMM a chance to inject something (a spurious fault, ...) here;
 * only when it handed us an injection plan, so normal runs pay nothing. */
int inject_point(uint32_t cp, int pid, uint64_t va)
{
	if (!boot.inject_gpa)
		return 0;
	struct cowvmm_hc_inject_point *ip = &mycpu()->hc_inject;
	memset(ip, 0, sizeof(*ip));
	ip->checkpoint = cp;
	ip->pid = pid;
	ip->va = va;
	hypercall(COWVMM_HC_INJECT, ip);
	return (int)ip->applied;
}
