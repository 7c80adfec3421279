/* vmm/inject_apply.c — VMM-side injections at guest inject points: exceptions and PTE corruption. */
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <linux/kvm.h>

#include "books.h"
#include "cowvmm/x86.h"
#include "inject.h"
#include "ptwalk.h"
#include "vmm.h"

/* ---- Guest page tables: the one walker, the guest's books ---------------- */

static int64_t frame_refs(const struct vm *vm, uint64_t f)
{
	return books_refcount(vm_books(vm), f);
}

/* A page-table page we may edit: when the guest published its counts, not
 * a free frame (a dying process's root may already be free, and free frames
 * hold the allocator's links).  The walker checks it lies inside RAM. */
static int live_table(void *ctx, uint64_t table_gpa, int level, uint64_t va)
{
	(void)level;
	(void)va;
	return frame_refs(ctx, table_gpa >> 12) != 0 ? 0 : PTW_SKIP;
}

/* A 4 KiB user leaf that `want` accepts, lowest address first. */
struct find {
	const struct vm *vm;
	bool (*want)(const struct vm *vm, enum inject_kind k, uint64_t pte);
	enum inject_kind kind;
	struct ptw_leaf leaf;
	bool found;
};

static int find_leaf(void *ctx, const struct ptw_leaf *l)
{
	struct find *f = ctx;
	if (l->level != 1 || (f->want && !f->want(f->vm, f->kind, l->pte)))
		return 0;
	f->leaf = *l;
	f->found = true;
	return 1;
}

static int find_table(void *ctx, uint64_t table_gpa, int level, uint64_t va)
{
	struct find *f = ctx;
	return live_table((void *)f->vm, table_gpa, level, va);
}

/* First 4 KiB user leaf in [lo, hi] under cr3 that `want` accepts (any if
 * NULL), through live tables only. */
static bool find(const struct vm *vm, uint64_t cr3, uint64_t lo, uint64_t hi,
		 bool (*want)(const struct vm *, enum inject_kind, uint64_t), enum inject_kind k,
		 struct ptw_leaf *out)
{
	struct find f = { .vm = vm, .want = want, .kind = k };
	const struct ptw_ops ops = { .table = find_table, .leaf = find_leaf };
	ptw_walk(&vm->mem, cr3, lo, hi, 0, &ops, &f);
	if (f.found)
		*out = f.leaf;
	return f.found;
}

/* GPA of the 4 KiB leaf PTE mapping user address va under root cr3, or 0 if
 * a level is not present, is a large page, or a table is not live. */
static uint64_t leaf_gpa(const struct vm *vm, uint64_t cr3, uint64_t va)
{
	struct ptw_leaf l;
	return find(vm, cr3, va, va, NULL, 0, &l) ? l.pte_gpa : 0;
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
 * PTE GPA.  Returns false if none. */
static bool find_target(const struct vm *vm, enum inject_kind k, uint64_t cr3, uint64_t *va,
			uint64_t *pte_gpa)
{
	struct ptw_leaf l;
	if (!find(vm, cr3, PTW_USER_LO, PTW_USER_HI, wanted, k, &l))
		return false;
	*va = l.va;
	*pte_gpa = l.pte_gpa;
	return true;
}

/* The highest frame the guest's allocator manages that no one references. */
static uint64_t find_free_frame(const struct vm *vm)
{
	const struct books *b = vm_books(vm);
	if (!b->valid)
		return 0;
	for (uint64_t f = b->d.nframes; f-- > b->d.first_frame && f > 0;) {
		const uint32_t *pin = books_pins_ptr(b, f);
		if (frame_refs(vm, f) == 0 && (!pin || *pin == 0) && gmem_ptr(&vm->mem, f << 12, 4096))
			return f;
	}
	return 0;
}

/* Pick the target: the action's own address, else the point's address if
 * it qualifies, else the lowest qualifying user page. */
static bool choose(const struct vm *vm, struct inject_action *a, uint64_t cr3, uint64_t point_va,
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

/* The vCPU's sregs; KVM refusing them to a stopped vCPU means this host's
 * KVM cannot do what injection needs (as KVM_CHECK would say). */
static const struct kvm_sregs *vcpu_sregs_checked(struct vcpu *v, const struct inject_action *a)
{
	const struct kvm_sregs *s = vcpu_sregs(v);
	if (!s) {
		fprintf(stderr, "vmm: ioctl KVM_GET_SREGS (inject %s) failed\n", a->spec);
		exit(VMM_EXIT_NO_KVM);
	}
	return s;
}

/* ---- Exceptions through KVM_SET_VCPU_EVENTS ---------------------------- */

/* Queue #PF (cr2, err) or an NMI for delivery at the next entry.  Returns
 * false (with a->result) if another event is already on its way. */
static bool queue_event(struct vcpu *v, struct inject_action *a, uint64_t cr2, uint32_t err)
{
	if (!v->vm->cap.vcpu_events) {
		snprintf(a->result, sizeof a->result, "KVM_CAP_VCPU_EVENTS missing");
		return false;
	}
	struct kvm_vcpu_events ev;
	memset(&ev, 0, sizeof ev);
	KVM_CHECK(v->fd, KVM_GET_VCPU_EVENTS, &ev, "inject %s", a->spec);
	if (ev.exception.injected || ev.exception.pending || ev.nmi.injected || ev.interrupt.injected) {
		snprintf(a->result, sizeof a->result, "busy: an event is already being delivered");
		return false;
	}
	if (a->kind == INJ_NMI) {
		ev.nmi.pending = 1;
		ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING;
	} else {
		const struct kvm_sregs *cur = vcpu_sregs(v);
		if (!cur) {
			snprintf(a->result, sizeof a->result, "KVM_GET_SREGS failed");
			return false;
		}
		struct kvm_sregs s = *cur;
		s.cr2 = cr2;
		vcpu_set_sregs(v, &s);
		ev.exception.injected = 1;
		ev.exception.nr = X86_VEC_PF;
		ev.exception.has_error_code = 1;
		ev.exception.error_code = err;
		ev.flags = 0;
	}
	KVM_CHECK(v->fd, KVM_SET_VCPU_EVENTS, &ev, "inject %s", a->spec);
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

static bool read_gva(struct vcpu *v, uint64_t gva, void *out, size_t n)
{
	uint64_t gpa;
	if ((gva & 0xfff) + n > COWVMM_PAGE_SIZE || vcpu_translate(v, gva, &gpa) < 0)
		return false;
	const void *p = gmem_ptr(&v->vm->mem, gpa, n);
	if (!p)
		return false;
	memcpy(out, p, n);
	return true;
}

static bool user_return_rip(struct vcpu *v, const struct kvm_sregs *s, uint64_t *rip)
{
	uint64_t rsp0, frame[5];
	if (!read_gva(v, s->tr.base + 4, &rsp0, 8) || rsp0 < 40 || !read_gva(v, rsp0 - 40, frame, 40))
		return false;
	*rip = frame[0];
	return (frame[1] & 3) == 3 && frame[0] < (1ull << 47);
}

static void set_debug(struct vcpu *v, bool on)
{
	struct kvm_guest_debug dbg;
	memset(&dbg, 0, sizeof dbg);
	if (on)
		dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
	KVM_CHECK(v->fd, KVM_SET_GUEST_DEBUG, &dbg, "vcpu %u: %s single-step", v->id, on ? "start" : "stop");
}

static void apply_exception(struct vcpu *v, struct inject_action *a, uint64_t point_va, int pid)
{
	struct inject_armed *armed = &inject_state(v->vm)->armed;
	struct kvm_sregs s = *vcpu_sregs_checked(v, a);
	unsigned cpl = s.cs.selector & 3;
	if (a->kind == INJ_NMI) {
		/* NMIs arrive whenever they like: deliver right here. */
		if (queue_event(v, a, 0, 0)) {
			a->applied = true;
			snprintf(a->result, sizeof a->result, "pid=%d nmi cpl=%u", pid, cpl);
		}
		return;
	}
	uint64_t va = 0, pte_gpa = 0;
	if (!choose(v->vm, a, s.cr3, point_va, &va, &pte_gpa))
		return;
	uint64_t cr2 = a->have_addr ? a->addr : va;
	uint32_t err = a->have_err ? (uint32_t)a->err : X86_PF_P | X86_PF_W | X86_PF_U;
	if (cpl == 3) {
		if (queue_event(v, a, cr2, err)) {
			a->applied = true;
			snprintf(a->result, sizeof a->result, "pid=%d #PF cr2=0x%" PRIx64 " err=0x%x at user rip",
				 pid, cr2, err);
		}
		return;
	}
	uint64_t rip;
	if (armed->a) {
		snprintf(a->result, sizeof a->result, "busy: '%s' already waits for user mode", armed->a->spec);
		return;
	}
	if (!user_return_rip(v, &s, &rip)) {
		snprintf(a->result, sizeof a->result, "no user trap frame on the kernel stack");
		return;
	}
	*armed = (struct inject_armed){ a, s.cr3, rip, cr2, err, pid, 0 };
	set_debug(v, true);
	snprintf(a->result, sizeof a->result, "armed for user rip 0x%" PRIx64 " (cr2=0x%" PRIx64 ")", rip, cr2);
}

int inject_on_debug(struct vcpu *v)
{
	struct inject_armed *armed = &inject_state(v->vm)->armed;
	struct inject_action *a = armed->a;
	if (!a)
		return vm_guest_error(v, "debug exit with no injection armed (pc 0x%llx)",
				      (unsigned long long)v->run->debug.arch.pc);
	struct kvm_sregs s = *vcpu_sregs_checked(v, a);
	bool user = (s.cs.selector & 3) == 3;
	if (!user && ++armed->steps < STEP_BUDGET)
		return VMM_CONTINUE; /* still in the kernel: one more step */
	armed->a = NULL;
	set_debug(v, false);
	const struct kvm_regs *rp = vcpu_regs(v);
	if (!rp) {
		fprintf(stderr, "vmm: ioctl KVM_GET_REGS (inject %s) failed\n", a->spec);
		exit(VMM_EXIT_NO_KVM);
	}
	struct kvm_regs r = *rp;
	if (!user) {
		snprintf(a->result, sizeof a->result, "still in the kernel after %u steps", armed->steps);
	} else if ((s.cr3 & COWVMM_PTE_ADDR) != (armed->cr3 & COWVMM_PTE_ADDR)) {
		snprintf(a->result, sizeof a->result,
			 "returned to another address space (cr3 0x%llx, rip 0x%llx) after %u steps",
			 (unsigned long long)s.cr3, (unsigned long long)r.rip, armed->steps);
	} else if (queue_event(v, a, armed->cr2, armed->err)) {
		a->applied = true;
		const uint64_t *e = NULL;
		uint64_t g = leaf_gpa(v->vm, s.cr3, armed->cr2 & ~0xfffull);
		if (g)
			e = gmem_ptr(&v->vm->mem, g, 8);
		snprintf(a->result, sizeof a->result,
			 "pid=%d #PF cr2=0x%" PRIx64 " err=0x%x at user rip 0x%llx (%u steps) pte=0x%" PRIx64,
			 armed->pid, armed->cr2, armed->err, (unsigned long long)r.rip, armed->steps, e ? *e : 0);
	}
	fprintf(stderr, "vmm: inject: '%s' %s: %s\n", a->spec, a->applied ? "applied" : "not applied",
		a->result);
	return VMM_CONTINUE;
}

/* ---- PTE corruption ---------------------------------------------------- */

static void apply_pte(struct vcpu *v, struct inject_action *a, uint64_t point_va, int pid)
{
	const struct vm *vm = v->vm;
	uint64_t cr3 = vcpu_sregs_checked(v, a)->cr3;
	uint64_t va, pte_gpa;
	if (!choose(vm, a, cr3, point_va, &va, &pte_gpa))
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

static void fire(struct vcpu *v, struct inject_action *a, uint64_t point_va, int pid)
{
	a->fired = true;
	if (a->kind <= INJ_NMI)
		apply_exception(v, a, point_va, pid);
	else
		apply_pte(v, a, point_va, pid);
	if (inject_state(v->vm)->armed.a == a)
		return; /* reported when it reaches user mode */
	fprintf(stderr, "vmm: inject: '%s' %s: %s\n", a->spec, a->applied ? "applied" : "not applied",
		a->result);
}

/* ---- Entry points from the run loop and the hypercall dispatcher ------- */

int inject_hc(struct vcpu *v, void *argp)
{
	struct cowvmm_hc_inject_point *arg = argp;
	struct inject_cfg *c = &inject_state(v->vm)->cfg;
	uint32_t cp = arg->checkpoint;
	int32_t pid = arg->pid;
	uint64_t va = arg->va;
	arg->applied = 0;
	if (cp >= COWVMM_CP_COUNT)
		return vm_guest_error(v, "HC_INJECT: checkpoint %u out of range", cp);
	c->points[cp]++;
	for (unsigned i = 0; i < c->nactions; i++) {
		struct inject_action *a = &c->act[i];
		if (a->fired || a->cp == INJECT_AT_EXITS || (a->cp != INJECT_CP_ANY && (uint32_t)a->cp != cp))
			continue;
		if (++a->seen == a->nth) {
			fire(v, a, va, pid);
			arg->applied |= a->applied;
		}
	}
	return VMM_CONTINUE;
}

void inject_on_exit(struct vcpu *v)
{
	struct inject_cfg *c = &inject_state(v->vm)->cfg;
	/* Every vCPU's thread counts here: each exit gets its own number, so
	 * exactly one vCPU sees the N-th and fires on itself. */
	uint64_t n = __atomic_add_fetch(&c->exits, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < c->nactions; i++) {
		struct inject_action *a = &c->act[i];
		if (!a->fired && a->cp == INJECT_AT_EXITS && n == a->nth)
			fire(v, a, 0, 0);
	}
}
