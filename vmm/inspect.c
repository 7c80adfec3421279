/* vmm/inspect.c — the audit module: HC_INSPECT at each guest checkpoint, the audit options, the end-of-run summary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "audit.h"
#include "books.h"
#include "dirty.h"
#include "dot.h"
#include "html.h"
#include "inspect.h"
#include "mutate.h"
#include "ptdump.h"
#include "ptwalk.h"
#include "report.h"
#include "vmm.h"

struct inspect_state {
	bool audit;           /* checkpoints audited (COWVMM_BOOT_F_AUDIT) */
	bool asked;           /* --audit */
	bool no_audit;        /* --no-audit */
	bool implied;         /* an option that needs checkpoints was given */
	bool keep_going;      /* --audit-continue: count violations, do not stop */
	unsigned full_every;  /* --audit-full-every, 0 = default */
	struct audit *a;      /* created at the first checkpoint */
	uint64_t violations;  /* found over the whole run */
	bool xlate_off;       /* KVM_TRANSLATE unusable: cross-check disabled */
	uint64_t xlate_checked;
};

static const struct vmm_module inspect_module;

static struct inspect_state *st(const struct vm *vm)
{
	return vm_state(vm, &inspect_module);
}

void inspect_require(struct vm *vm)
{
	st(vm)->implied = true;
}

bool inspect_auditing(const struct vm *vm)
{
	return st(vm)->audit;
}

unsigned inspect_full_every(const struct vm *vm)
{
	unsigned n = st(vm)->full_every;
	return n ? n : AUDIT_FULL_EVERY_DEFAULT;
}

/* ---- options ----------------------------------------------------------- */

enum { O_AUDIT, O_NO_AUDIT, O_CONTINUE, O_FULL_EVERY };

static const struct vmm_option inspect_options[] = {
	{ "audit", false, O_AUDIT },
	{ "no-audit", false, O_NO_AUDIT },
	{ "audit-continue", false, O_CONTINUE },
	{ "audit-full-every", true, O_FULL_EVERY },
	{ NULL, false, 0 },
};

static int inspect_option(struct vm *vm, int id, const char *arg)
{
	struct inspect_state *s = st(vm);
	switch (id) {
	case O_AUDIT: s->asked = true; return 0;
	case O_NO_AUDIT: s->no_audit = true; return 0;
	case O_CONTINUE: s->keep_going = true; s->implied = true; return 0;
	case O_FULL_EVERY: {
		char *end;
		unsigned long v = strtoul(arg, &end, 10);
		if (!*arg || *end || *arg == '-' || v == 0 || v > 1000000) {
			fprintf(stderr, "vmm: invalid --audit-full-every count (1..1000000) '%s'\nTry 'vmm --help'.\n", arg);
			return VMM_EXIT_USAGE;
		}
		s->full_every = (unsigned)v;
		return 0;
	}
	}
	return VMM_EXIT_USAGE;
}

static void inspect_usage(FILE *f)
{
	fprintf(f,
		"\n"
		"Audit options (the VMM checks the guest's COW invariants from outside;\n"
		"--dump-pt, --dot, --mutate and --audit-continue imply --audit and override\n"
		"--bench's default; a text summary of the audits goes to standard error at\n"
		"the end, not with -q):\n"
		"      --audit           audit at every guest checkpoint (fork, COW fault,\n"
		"                        exit, user request); a violation ends the run with\n"
		"                        status 1 and names pids, address, PTEs and frames.\n"
		"                        On by default, except with --bench\n"
		"      --no-audit        no checkpoints, even with the options below\n"
		"      --audit-full-every N  a COW fault's checkpoints are checked locally (the\n"
		"                        writer's PTE, old and new frame, their refcounts,\n"
		"                        the frame's other sharers); the full audit of every\n"
		"                        address space runs at boot, fork, exit and user\n"
		"                        checkpoints, at every Nth COW checkpoint and when\n"
		"                        the local counts do not add up; the dirty log is\n"
		"                        checked at the first and every Nth COW fault\n"
		"                        (default %u; 1 = everything at every checkpoint)\n"
		"      --audit-continue  report violations but let the guest run on (the run\n"
		"                        still ends with status 1)\n",
		AUDIT_FULL_EVERY_DEFAULT);
}

/* The VMM does not take the guest's word: every run is audited unless told
 * not to, or timed (a checkpoint is a VM exit inside the loop). */
static int inspect_setup(struct vm *vm)
{
	struct inspect_state *s = st(vm);
	bool bench = vm->boot_flags & COWVMM_BOOT_F_BENCH;
	s->audit = !s->no_audit && (s->asked || s->implied || !bench);
	if (s->audit)
		vm->boot_flags |= COWVMM_BOOT_F_AUDIT;
	return 0;
}

/* ---- checkpoints ------------------------------------------------------------- */

static struct audit *get_audit(struct vm *vm)
{
	struct inspect_state *s = st(vm);
	const struct books *b = vm_books(vm);
	if (s->a || !b->valid || !s->audit)
		return s->a;
	char err[200];
	s->a = audit_new(&vm->mem);
	if (s->a && audit_set_descriptor(s->a, &b->d, err, sizeof err)) {
		fprintf(stderr, "vmm: audit: %s\n", err);
		audit_free(s->a);
		s->a = NULL;
	}
	if (s->a) {
		audit_set_full_every(s->a, inspect_full_every(vm));
		dirty_start(vm);
	}
	return s->a;
}

/* Collect a few user VAs of one address space for the translate cross-check. */
struct pick {
	uint64_t va[4];
	int n;
};

static int pick_leaf(void *ctx, const struct ptw_leaf *l)
{
	struct pick *p = ctx;
	if (p->n < 3)
		p->va[p->n++] = l->va + 8;
	else
		p->va[2] = l->va + l->size - 8; /* keep the last one */
	return 0;
}

/* When the vCPU's CR3 is an audited process's, KVM's own walk must agree with ours. */
static void xlate_check(struct vcpu *v, struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	struct inspect_state *s = st(v->vm);
	const struct kvm_sregs *sr = vcpu_sregs(v);
	const struct gmem *m = audit_mem(a);
	if (s->xlate_off || !sr)
		return;
	size_t np;
	const struct audit_proc *p = audit_procs(a, &np);
	for (size_t i = 0; i < np; i++) {
		/* Once per address space: the threads of a group share one, and
		 * its owner (as_pid) stands for them all. */
		if ((p[i].cr3 & COWVMM_PTE_ADDR) != (sr->cr3 & COWVMM_PTE_ADDR) || !books_has_mm(p[i].state, p[i].cr3) ||
		    p[i].as_pid != p[i].pid)
			continue;
		struct pick pk = { .n = 0 };
		const struct ptw_ops ops = { .leaf = pick_leaf };
		/* A local (cheap) checkpoint checks the faulting address only. */
		if (audit_last_full(a))
			ptw_walk(m, p[i].cr3, PTW_USER_LO, PTW_USER_HI, 0, &ops, &pk);
		if (cp->va && pk.n < 4)
			pk.va[pk.n++] = cp->va;
		for (int k = 0; k < pk.n; k++) {
			uint64_t ours = 0;
			enum ptw_error e = ptw_translate(m, sr->cr3, pk.va[k], NULL, &ours, NULL);
			struct kvm_translation tr = { .linear_address = pk.va[k] };
			if (kvm_try(v->fd, KVM_TRANSLATE, &tr) < 0) {
				vm_note(v->vm, "audit: KVM_TRANSLATE failed; walker cross-check disabled");
				s->xlate_off = true;
				return;
			}
			s->xlate_checked++;
			bool agree = tr.valid ? e == PTW_E_NONE && ours == tr.physical_address : e != PTW_E_NONE;
			if (!agree) {
				struct audit_violation viol = {
					.kind = AV_TRANSLATE, .checkpoint = cp->checkpoint, .seq = audit_seq(a),
					.pid = p[i].pid, .va = pk.va[k], .frame = UINT64_MAX,
					.expected = tr.valid ? tr.physical_address : 0, .found = ours,
				};
				snprintf(viol.detail, sizeof viol.detail,
					 "walker says %s 0x%llx, KVM_TRANSLATE says %s 0x%llx", ptw_error_name(e),
					 (unsigned long long)ours, tr.valid ? "valid" : "invalid",
					 (unsigned long long)tr.physical_address);
				audit_add(a, &viol);
			}
		}
	}
}

/* With every vCPU stopped, the CPUs and the process table must agree:
 *  - each vCPU runs on the kernel's page tables or on a live process's; a
 *    CR3 that belongs to nobody is a released address space still loaded
 *    (its table pages may already be reused: a stale CR3, the page-table
 *    cousin of a stale TLB entry);
 *  - each process the guest says is RUNNING (with an address space) is
 *    loaded on some vCPU: its books and the CPUs tell the same story.
 * Threads: a group's tables may be loaded on several vCPUs at once (one per
 * RUNNING thread), and a ZOMBIE leader without tables leaves them owned by
 * its live threads' entries.  The rule stays per entry: each RUNNING thread
 * needs some vCPU on its tables.  N RUNNING threads of one group are not
 * matched against N vCPUs: a CR3 names the tables, not the thread, so the
 * CPUs cannot say which thread is missing, and a CPU may keep a group's
 * tables loaded while none of its threads is RUNNING there. */
static void cr3_check(struct vm *vm, struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	const struct books *b = audit_books(a);
	uint64_t roots[VMM_MAX_VCPUS];
	unsigned nroots = 0;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vcpu *u = &vm->vcpus[i];
		const struct kvm_sregs *sr = u->started ? vcpu_sregs(u) : NULL;
		if (!sr)
			continue;
		uint64_t root = sr->cr3 & COWVMM_PTE_ADDR;
		roots[nroots++] = root;
		bool owned = root == (b->d.kernel_pml4_gpa & COWVMM_PTE_ADDR);
		struct guest_proc p;
		for (uint32_t k = 0; !owned && k < b->d.nproc; k++)
			owned = books_proc(b, k, &p) && books_has_mm(p.state, p.cr3) && (p.cr3 & COWVMM_PTE_ADDR) == root;
		if (owned)
			continue;
		struct audit_violation viol = {
			.kind = AV_CPU_CR3, .checkpoint = cp->checkpoint, .seq = audit_seq(a), .pid = cp->pid,
			.frame = root / COWVMM_PAGE_SIZE, .expected = 0, .found = root,
		};
		snprintf(viol.detail, sizeof viol.detail,
			 "vcpu %u runs on page tables at 0x%llx that neither the kernel nor any live process owns",
			 u->id, (unsigned long long)root);
		audit_add(a, &viol);
	}
	if (!nroots)
		return; /* no register state to compare with (no vCPU started) */
	struct guest_proc p;
	for (uint32_t k = 0; k < b->d.nproc; k++) {
		if (!books_proc(b, k, &p) || p.state != COWVMM_PSTATE_RUNNING || !books_has_mm(p.state, p.cr3))
			continue;
		bool loaded = false;
		for (unsigned i = 0; i < nroots && !loaded; i++)
			loaded = roots[i] == (p.cr3 & COWVMM_PTE_ADDR);
		if (loaded)
			continue;
		struct audit_violation viol = {
			.kind = AV_CPU_CR3, .checkpoint = cp->checkpoint, .seq = audit_seq(a), .pid = p.pid,
			.frame = (p.cr3 & COWVMM_PTE_ADDR) / COWVMM_PAGE_SIZE, .expected = p.cr3 & COWVMM_PTE_ADDR,
			.found = roots[0],
		};
		snprintf(viol.detail, sizeof viol.detail,
			 "pid %d is RUNNING on page tables at 0x%llx, but no vCPU runs on them", p.pid,
			 (unsigned long long)(p.cr3 & COWVMM_PTE_ADDR));
		audit_add(a, &viol);
	}
}

static int hc_inspect(struct vcpu *v, void *argp)
{
	struct vm *vm = v->vm;
	struct inspect_state *s = st(vm);
	struct cowvmm_hc_inspect *arg = argp, cp;
	memcpy(&cp, arg, sizeof cp); /* one read: the guest cannot change it under us */
	struct audit *a = get_audit(vm);
	if (!a && !s->audit)
		return vm_guest_error(v, "hypercall INSPECT although the boot info says the VMM does not audit");
	if (!a)
		return vm_guest_error(v, "hypercall INSPECT: the guest did not describe its memory (DESCRIBE)");
	mutate_at_checkpoint(vm, audit_books(a), &cp);
	uint64_t nbits = 0;
	const uint64_t *dirty = dirty_before_audit(vm, &cp, &nbits);
	audit_run(a, &cp);
	if (dirty)
		audit_dirty_check(a, &cp, dirty, nbits);
	xlate_check(v, a, &cp);
	cr3_check(vm, a, &cp);
	size_t nv;
	uint64_t total;
	const struct audit_violation *viol = audit_violations(a, &nv, &total);
	report_checkpoint(vm, v->id, &cp, a);
	uint64_t seq = audit_seq(a);
	ptdump_at_checkpoint(vm, audit_books(a), &cp, seq);
	dot_at_checkpoint(vm, a, &cp);
	html_at_checkpoint(vm, v->id, &cp, a);
	arg->verdict = total > 0xffffffffu ? 0xffffffffu : (uint32_t)total;
	s->violations += total;
	if (!total) {
		if (cp.checkpoint == COWVMM_CP_COW_BEFORE)
			dirty_arm(v, a);
		return VMM_CONTINUE;
	}
	char buf[512], where[24] = "";
	if (vm->nvcpus > 1)
		snprintf(where, sizeof where, ", vcpu %u", v->id); /* which CPU's checkpoint */
	fflush(stdout);
	for (size_t i = 0; i < nv && i < 16; i++)
		fprintf(stderr, "vmm: audit violation at checkpoint %llu (%s%s): %s\n", (unsigned long long)seq,
			audit_checkpoint_name(cp.checkpoint), where, audit_format(&viol[i], buf, sizeof buf));
	if (total > 16)
		fprintf(stderr, "vmm: ... %llu violation(s) in all at this checkpoint\n", (unsigned long long)total);
	return s->keep_going ? VMM_CONTINUE : VMM_EXIT_GUEST_FAIL;
}

static int inspect_register(struct vm *vm)
{
	int r = inspect_setup(vm);
	vm_register_hypercall(vm, COWVMM_HC_INSPECT, sizeof(struct cowvmm_hc_inspect), hc_inspect);
	/* An audit never reads a half-updated guest: every other vCPU parked. */
	vm_hypercall_stops_world(vm, COWVMM_HC_INSPECT);
	return r;
}

/* ---- end of run -------------------------------------------------------------- */

static int inspect_finish(struct vm *vm, int status)
{
	struct inspect_state *s = st(vm);
	if (status == VMM_EXIT_NO_KVM)
		return status; /* the host could not run the guest: nothing was audited worth a summary */
	/* --audit-continue lets the guest go on, but a run with violations did
	 * not pass: a script must not read it as a success. */
	if (s->keep_going && s->violations && status == VMM_EXIT_OK) {
		fprintf(stderr, "vmm: audit: %llu violation(s) found (--audit-continue): exit status 1\n",
			(unsigned long long)s->violations);
		status = VMM_EXIT_GUEST_FAIL;
	}
	struct audit *a = get_audit(vm);
	if (a)
		ptdump_at_end(vm, audit_books(a));
	fflush(stdout);
	uint64_t full = 0, local = 0, fallback = 0;
	if (a)
		audit_counts(a, &full, &local, &fallback);
	unsigned every = inspect_full_every(vm);
	report_audit_info(vm, full, local, fallback, every);
	if (a)
		mutate_report(vm);
	if (!vm->quiet || (a && audit_seq(a) && status == VMM_EXIT_GUEST_FAIL)) {
		report_text(vm, stderr, status);
		if (a && s->audit) {
			fprintf(stderr, "vmm: audit: %llu full, %llu local COW checkpoint(s) (%llu sent on to a full "
				"audit); full audit every %u COW checkpoint(s)\n", (unsigned long long)full,
				(unsigned long long)local, (unsigned long long)fallback, every);
			dirty_summary(vm);
		}
		if (s->xlate_checked)
			fprintf(stderr, "vmm: walker cross-checked against KVM_TRANSLATE at %llu address(es)\n",
				(unsigned long long)s->xlate_checked);
	}
	return status;
}

static void inspect_teardown(struct vm *vm)
{
	struct inspect_state *s = st(vm);
	audit_free(s->a);
	s->a = NULL;
}

static const struct vmm_module inspect_module = {
	.name = "inspect",
	.order = 20,
	.state_size = sizeof(struct inspect_state),
	.options = inspect_options,
	.usage = inspect_usage,
	.option = inspect_option,
	.setup = inspect_register,
	.finish = inspect_finish,
	.teardown = inspect_teardown,
};
VMM_MODULE(inspect_module);
