/* vmm/inject_apply.c — VMM-side injections at guest inject points: exceptions and PTE corruption. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <linux/kvm.h>

#include "inject.h"
#include "vmm.h"

extern struct inject_cfg inject_run;

#define PF_P 0x1u /* #PF error code: page was present */
#define PF_W 0x2u /* write access */
#define PF_U 0x4u /* user mode */

/* ---- Guest page tables, read through gmem_ptr() only -------------------- */

/* Reference count of frame f from the guest's published array, or -1 if
 * unknown (no descriptor, or f outside it). */
static int64_t frame_refs(const struct vm *vm, uint64_t f)
{
	if (!vm->have_desc || f >= vm->desc.nframes)
		return -1;
	const uint32_t *rc = gmem_ptr(&vm->mem, vm->desc.refcount_gpa + f * 4, 4);
	return rc ? (int64_t)*rc : -1;
}

/* A page-table page we may edit: inside RAM and, when the guest published
 * its counts, not a free frame (a dying process's root may already be free,
 * and free frames hold the allocator's links). */
static bool live_table(const struct vm *vm, uint64_t gpa)
{
	return gmem_ptr(&vm->mem, gpa & COWVMM_PTE_ADDR, COWVMM_PAGE_SIZE) &&
	       frame_refs(vm, gpa >> 12) != 0;
}

/* GPA of the 4 KiB leaf PTE mapping user address va under root cr3, or 0 if
 * a level is not present, is a large page, or a table is not live. */
static uint64_t leaf_gpa(const struct vm *vm, uint64_t cr3, uint64_t va)
{
	uint64_t table = cr3 & COWVMM_PTE_ADDR;
	for (int level = 3; level >= 0; level--) {
		if (!live_table(vm, table))
			return 0;
		uint64_t gpa = table + ((va >> (12 + 9 * level)) & 511) * 8;
		const uint64_t *e = gmem_ptr(&vm->mem, gpa, 8);
		if (!e)
			return 0;
		if (level == 0)
			return gpa;
		if (!(*e & COWVMM_PTE_P) || (*e & COWVMM_PTE_PS))
			return 0;
		table = *e & COWVMM_PTE_ADDR;
	}
	return 0;
}

/* Whether a leaf PTE is a target for kind k. */
static bool wanted(const struct vm *vm, enum inject_kind k, uint64_t pte)
{
	const uint64_t user = COWVMM_PTE_P | COWVMM_PTE_US;
	if ((pte & user) != user)
		return k == INJ_NMI;
	bool rw = pte & COWVMM_PTE_RW, cow = pte & COWVMM_PTE_COW;
	switch (k) {
	case INJ_PF_SPURIOUS:
	case INJ_CLEAR_RW:
		return rw;
	case INJ_FREE_FRAME:
		return true;
	case INJ_PF_COW:
		return cow && !rw;
	case INJ_CLEAR_P:
		return true;
	case INJ_SET_COW:
		return rw && !cow && frame_refs(vm, (pte & COWVMM_PTE_ADDR) >> 12) == 1;
	default:
		return false;
	}
}

/* First user leaf (lowest address) under cr3 that kind k wants: its va and
 * PTE GPA.  Returns false if none.  Tables are bounds-checked at each step. */
static bool find_target(const struct vm *vm, enum inject_kind k, uint64_t cr3, uint64_t *va,
			uint64_t *pte_gpa)
{
	const struct gmem *m = &vm->mem;
	uint64_t t4 = cr3 & COWVMM_PTE_ADDR;
	if (!live_table(vm, t4))
		return false;
	for (uint64_t i4 = 0; i4 < 256; i4++) {
		const uint64_t *e4 = gmem_ptr(m, t4 + i4 * 8, 8);
		if (!e4 || !(*e4 & COWVMM_PTE_P) || !live_table(vm, *e4))
			continue;
		for (uint64_t i3 = 0; i3 < 512; i3++) {
			const uint64_t *e3 = gmem_ptr(m, (*e4 & COWVMM_PTE_ADDR) + i3 * 8, 8);
			if (!e3 || !(*e3 & COWVMM_PTE_P) || (*e3 & COWVMM_PTE_PS) || !live_table(vm, *e3))
				continue;
			for (uint64_t i2 = 0; i2 < 512; i2++) {
				const uint64_t *e2 = gmem_ptr(m, (*e3 & COWVMM_PTE_ADDR) + i2 * 8, 8);
				if (!e2 || !(*e2 & COWVMM_PTE_P) || (*e2 & COWVMM_PTE_PS) || !live_table(vm, *e2))
					continue;
				for (uint64_t i1 = 0; i1 < 512; i1++) {
					uint64_t g = (*e2 & COWVMM_PTE_ADDR) + i1 * 8;
					const uint64_t *e1 = gmem_ptr(m, g, 8);
					if (e1 && wanted(vm, k, *e1)) {
						*va = i4 << 39 | i3 << 30 | i2 << 21 | i1 << 12;
						*pte_gpa = g;
						return true;
					}
				}
			}
		}
	}
	return false;
}

/* The highest frame the guest's allocator manages that no one references. */
static uint64_t find_free_frame(const struct vm *vm)
{
	if (!vm->have_desc)
		return 0;
	for (uint64_t f = vm->desc.nframes; f-- > vm->desc.first_frame && f > 0;) {
		const uint32_t *pin = vm->desc.pins_gpa ? gmem_ptr(&vm->mem, vm->desc.pins_gpa + f * 4, 4) : NULL;
		if (frame_refs(vm, f) == 0 && (!pin || *pin == 0) && gmem_ptr(&vm->mem, f << 12, 4096))
			return f;
	}
	return 0;
}

/* Pick the target: the action's own address, else the point's address if
 * it qualifies, else the lowest qualifying user page. */
static bool choose(struct vm *vm, struct inject_action *a, uint64_t cr3, uint64_t point_va,
		   uint64_t *va, uint64_t *pte_gpa)
{
	if (a->have_addr) {
		*va = a->addr & ~0xfffull;
		*pte_gpa = leaf_gpa(vm, cr3, *va);
		if (!*pte_gpa && a->kind >= INJ_CLEAR_RW) {
			snprintf(a->result, sizeof a->result, "va 0x%" PRIx64 " has no 4 KiB PTE", *va);
			return false;
		}
		return true;
	}
	if (point_va && point_va < (1ull << 47)) {
		uint64_t g = leaf_gpa(vm, cr3, point_va & ~0xfffull);
		const uint64_t *e = g ? gmem_ptr(&vm->mem, g, 8) : NULL;
		if (e && wanted(vm, a->kind, *e)) {
			*va = point_va & ~0xfffull;
			*pte_gpa = g;
			return true;
		}
	}
	if (find_target(vm, a->kind, cr3, va, pte_gpa))
		return true;
	snprintf(a->result, sizeof a->result, "no user page suits %s under cr3 0x%" PRIx64,
		 inject_kind_name(a->kind), cr3);
	return false;
}

/* ---- Exceptions through KVM_SET_VCPU_EVENTS ---------------------------- */

/* Queue #PF (cr2, err) or an NMI for delivery at the next entry.  Returns
 * false (with a->result) if another event is already on its way. */
static bool queue_event(struct vm *vm, struct inject_action *a, uint64_t cr2, uint32_t err)
{
	if (!vm->cap.vcpu_events) {
		snprintf(a->result, sizeof a->result, "KVM_CAP_VCPU_EVENTS missing");
		return false;
	}
	struct kvm_vcpu_events ev;
	memset(&ev, 0, sizeof ev);
	KVM_CHECK(vm->vcpu_fd, KVM_GET_VCPU_EVENTS, &ev, "inject %s", a->spec);
	if (ev.exception.injected || ev.exception.pending || ev.nmi.injected || ev.interrupt.injected) {
		snprintf(a->result, sizeof a->result, "busy: an event is already being delivered");
		return false;
	}
	if (a->kind == INJ_NMI) {
		ev.nmi.pending = 1;
		ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING;
	} else {
		struct kvm_sregs s;
		KVM_CHECK(vm->vcpu_fd, KVM_GET_SREGS, &s, "inject %s", a->spec);
		s.cr2 = cr2;
		KVM_CHECK(vm->vcpu_fd, KVM_SET_SREGS, &s, "cr2 0x%" PRIx64, cr2);
		ev.exception.injected = 1;
		ev.exception.nr = 14;
		ev.exception.has_error_code = 1;
		ev.exception.error_code = err;
		ev.flags = 0;
	}
	KVM_CHECK(vm->vcpu_fd, KVM_SET_VCPU_EVENTS, &ev, "inject %s", a->spec);
	return true;
}

/* A #PF armed for the moment the process is back in user mode: the kernel
 * (rightly) treats a page fault at kernel RIP on a user address outside its
 * user-copy routine as a kernel bug, so a realistic spurious or COW #PF must
 * arrive at CPL 3.  We single-step the vCPU (KVM_SET_GUEST_DEBUG) from the
 * inject point until it runs at CPL 3 in the same address space -- the
 * kernel's return path, a few hundred instructions -- and inject there, on
 * the user instruction about to run.  The user return address is read first
 * from the trap frame at the top of the kernel stack (TSS.RSP0 - 40: RIP, CS,
 * RFLAGS, RSP, SS, built by both trap and syscall entries) to check that the
 * kernel is on its way back to user mode at all. */
#define STEP_BUDGET 200000u

static struct {
	struct inject_action *a; /* NULL when nothing is armed */
	uint64_t cr3, rip, cr2;
	uint32_t err;
	int pid;
	unsigned steps;
} armed;

static bool read_gva(struct vm *vm, uint64_t gva, void *out, size_t n)
{
	uint64_t gpa;
	if ((gva & 0xfff) + n > COWVMM_PAGE_SIZE || kvm_translate(vm, gva, &gpa) < 0)
		return false;
	const void *p = gmem_ptr(&vm->mem, gpa, n);
	if (!p)
		return false;
	memcpy(out, p, n);
	return true;
}

static bool user_return_rip(struct vm *vm, const struct kvm_sregs *s, uint64_t *rip)
{
	uint64_t rsp0, frame[5];
	if (!read_gva(vm, s->tr.base + 4, &rsp0, 8) || rsp0 < 40 || !read_gva(vm, rsp0 - 40, frame, 40))
		return false;
	*rip = frame[0];
	return (frame[1] & 3) == 3 && frame[0] < (1ull << 47);
}

static void set_debug(struct vm *vm, bool on)
{
	struct kvm_guest_debug dbg;
	memset(&dbg, 0, sizeof dbg);
	if (on)
		dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
	KVM_CHECK(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg, "%s single-step", on ? "start" : "stop");
}

static void apply_exception(struct vm *vm, struct inject_action *a, uint64_t point_va, int pid)
{
	struct kvm_sregs s;
	KVM_CHECK(vm->vcpu_fd, KVM_GET_SREGS, &s, "inject %s", a->spec);
	unsigned cpl = s.cs.selector & 3;
	if (a->kind == INJ_NMI) {
		/* NMIs arrive whenever they like: deliver right here. */
		if (queue_event(vm, a, 0, 0)) {
			a->applied = true;
			snprintf(a->result, sizeof a->result, "pid=%d nmi cpl=%u", pid, cpl);
		}
		return;
	}
	uint64_t va = 0, pte_gpa = 0;
	if (!choose(vm, a, s.cr3, point_va, &va, &pte_gpa))
		return;
	uint64_t cr2 = a->have_addr ? a->addr : va;
	uint32_t err = a->have_err ? (uint32_t)a->err : PF_P | PF_W | PF_U;
	if (cpl == 3) {
		if (queue_event(vm, a, cr2, err)) {
			a->applied = true;
			snprintf(a->result, sizeof a->result, "pid=%d #PF cr2=0x%" PRIx64 " err=0x%x at user rip",
				 pid, cr2, err);
		}
		return;
	}
	uint64_t rip;
	if (armed.a) {
		snprintf(a->result, sizeof a->result, "busy: '%s' already waits for user mode", armed.a->spec);
		return;
	}
	if (!user_return_rip(vm, &s, &rip)) {
		snprintf(a->result, sizeof a->result, "no user trap frame on the kernel stack");
		return;
	}
	armed.a = a;
	armed.cr3 = s.cr3;
	armed.rip = rip;
	armed.cr2 = cr2;
	armed.err = err;
	armed.pid = pid;
	armed.steps = 0;
	set_debug(vm, true);
	snprintf(a->result, sizeof a->result, "armed for user rip 0x%" PRIx64 " (cr2=0x%" PRIx64 ")", rip, cr2);
}

int inject_on_debug(struct vm *vm)
{
	struct inject_action *a = armed.a;
	if (!a)
		return vm_guest_error(vm, "debug exit with no injection armed (pc 0x%llx)",
				      (unsigned long long)vm->run->debug.arch.pc);
	struct kvm_sregs s;
	KVM_CHECK(vm->vcpu_fd, KVM_GET_SREGS, &s, "inject %s", a->spec);
	bool user = (s.cs.selector & 3) == 3;
	if (!user && ++armed.steps < STEP_BUDGET)
		return VMM_CONTINUE; /* still in the kernel: one more step */
	armed.a = NULL;
	set_debug(vm, false);
	struct kvm_regs r;
	KVM_CHECK(vm->vcpu_fd, KVM_GET_REGS, &r, "inject %s", a->spec);
	if (!user) {
		snprintf(a->result, sizeof a->result, "still in the kernel after %u steps", armed.steps);
	} else if ((s.cr3 & COWVMM_PTE_ADDR) != (armed.cr3 & COWVMM_PTE_ADDR)) {
		snprintf(a->result, sizeof a->result,
			 "returned to another address space (cr3 0x%llx, rip 0x%llx) after %u steps",
			 (unsigned long long)s.cr3, (unsigned long long)r.rip, armed.steps);
	} else if (queue_event(vm, a, armed.cr2, armed.err)) {
		a->applied = true;
		const uint64_t *e = NULL;
		uint64_t g = leaf_gpa(vm, s.cr3, armed.cr2 & ~0xfffull);
		if (g)
			e = gmem_ptr(&vm->mem, g, 8);
		snprintf(a->result, sizeof a->result,
			 "pid=%d #PF cr2=0x%" PRIx64 " err=0x%x at user rip 0x%llx (%u steps) pte=0x%" PRIx64,
			 armed.pid, armed.cr2, armed.err, (unsigned long long)r.rip, armed.steps, e ? *e : 0);
	}
	fprintf(stderr, "vmm: inject: '%s' %s: %s\n", a->spec, a->applied ? "applied" : "not applied",
		a->result);
	return VMM_CONTINUE;
}

/* ---- PTE corruption ---------------------------------------------------- */

static void apply_pte(struct vm *vm, struct inject_action *a, uint64_t point_va, int pid)
{
	struct kvm_sregs s;
	KVM_CHECK(vm->vcpu_fd, KVM_GET_SREGS, &s, "inject %s", a->spec);
	uint64_t va, pte_gpa;
	if (!choose(vm, a, s.cr3, point_va, &va, &pte_gpa))
		return;
	uint64_t *e = gmem_ptr(&vm->mem, pte_gpa, 8);
	if (!e)
		return;
	uint64_t old = *e, new = old;
	switch (a->kind) {
	case INJ_CLEAR_RW: new &= ~COWVMM_PTE_RW; break;
	case INJ_CLEAR_P: new &= ~COWVMM_PTE_P; break;
	case INJ_SET_COW: new = (new | COWVMM_PTE_COW) & ~COWVMM_PTE_RW; break;
	case INJ_FREE_FRAME: {
		uint64_t f = find_free_frame(vm);
		if (!f) {
			snprintf(a->result, sizeof a->result, "no free frame known (guest descriptor missing?)");
			return;
		}
		new = (old & ~COWVMM_PTE_ADDR) | f << 12;
		break;
	}
	default: return;
	}
	*e = new;
	a->applied = true;
	snprintf(a->result, sizeof a->result, "pid=%d va=0x%" PRIx64 " pte@0x%" PRIx64 " 0x%" PRIx64 " -> 0x%" PRIx64,
		 pid, va, pte_gpa, old, new);
}

static void fire(struct vm *vm, struct inject_action *a, uint64_t point_va, int pid)
{
	a->fired = true;
	if (a->kind <= INJ_NMI)
		apply_exception(vm, a, point_va, pid);
	else
		apply_pte(vm, a, point_va, pid);
	if (armed.a == a)
		return; /* reported when it reaches user mode */
	fprintf(stderr, "vmm: inject: '%s' %s: %s\n", a->spec, a->applied ? "applied" : "not applied",
		a->result);
}

/* ---- Entry points from the run loop and the hypercall dispatcher ------- */

int hc_inject(struct vm *vm, struct cowvmm_hc_inject_point *arg)
{
	struct inject_cfg *c = &inject_run;
	uint32_t cp = arg->checkpoint;
	int32_t pid = arg->pid;
	uint64_t va = arg->va;
	arg->applied = 0;
	if (cp >= COWVMM_CP_COUNT)
		return vm_guest_error(vm, "HC_INJECT: checkpoint %u out of range", cp);
	c->points[cp]++;
	for (unsigned i = 0; i < c->nactions; i++) {
		struct inject_action *a = &c->act[i];
		if (a->fired || a->cp == INJECT_AT_EXITS || (a->cp != INJECT_CP_ANY && (uint32_t)a->cp != cp))
			continue;
		if (++a->seen == a->nth) {
			fire(vm, a, va, pid);
			arg->applied |= a->applied;
		}
	}
	return VMM_CONTINUE;
}

void inject_on_exit(struct vm *vm)
{
	struct inject_cfg *c = &inject_run;
	c->exits++;
	for (unsigned i = 0; i < c->nactions; i++) {
		struct inject_action *a = &c->act[i];
		if (!a->fired && a->cp == INJECT_AT_EXITS && c->exits == a->nth)
			fire(vm, a, 0, 0);
	}
}
