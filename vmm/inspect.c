/* vmm/inspect.c — HC_INSPECT: audit at each guest checkpoint, plus the run's audit options, dumps, pictures and report. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <linux/kvm.h>

#include "audit_int.h"

struct inspect_opts inspect_opts;

static struct {
	bool no_audit;        /* --no-audit given */
	bool implied;         /* an option that needs checkpoints was given */
	int dump_pid;         /* -1 = all */
	enum { AT_FORK, AT_COW, AT_END, AT_SEQ } dump_at;
	uint64_t dump_seq;
	bool dumped;
	struct audit *a;
	bool mutated;
	bool dot_fork_done, dot_cow_done;
	int32_t dot_cow_pid, dot_cow_other;
	uint64_t dot_cow_va;
	bool xlate_off;       /* KVM_TRANSLATE unusable: cross-check disabled */
	uint64_t xlate_checked;
	unsigned full_every;  /* --audit-full-every */
	bool no_dirty;        /* --no-dirty-log */
	enum { DL_OFF, DL_ON, DL_FAILED } dirty;
	char dirty_why[120];  /* why dirty logging is off or stopped */
	bool dirty_armed;     /* the log was reset at a CP_COW_BEFORE */
	uint64_t dirty_checked, cow_faults;
} S = { .dump_pid = -1, .full_every = AUDIT_FULL_EVERY_DEFAULT };

/* ---- options ----------------------------------------------------------- */

static int bad(const char *what, const char *arg)
{
	fprintf(stderr, "vmm: invalid %s '%s'\nTry 'vmm --help'.\n", what, arg);
	return VMM_EXIT_USAGE;
}

/* PID|all[@fork|@cow|@end|@N] */
static int parse_dump(const char *arg)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%s", arg);
	char *at = strchr(buf, '@');
	if (at)
		*at++ = 0;
	if (!strcmp(buf, "all")) {
		S.dump_pid = -1;
	} else {
		char *end;
		long v = strtol(buf, &end, 10);
		if (!*buf || *end || v <= 0 || v > 0x7fffffff)
			return bad("--dump-pt process (a pid or 'all')", arg);
		S.dump_pid = (int)v;
	}
	S.dump_at = AT_FORK;
	if (!at || !strcmp(at, "fork"))
		return 0;
	if (!strcmp(at, "cow")) {
		S.dump_at = AT_COW;
	} else if (!strcmp(at, "end")) {
		S.dump_at = AT_END;
	} else {
		char *end;
		unsigned long long n = strtoull(at, &end, 10);
		if (!*at || *end || n == 0)
			return bad("--dump-pt time (fork, cow, end or a checkpoint number)", arg);
		S.dump_at = AT_SEQ;
		S.dump_seq = n;
	}
	return 0;
}

int inspect_option(int c, const char *arg)
{
	switch (c) {
	case 0x4100: inspect_opts.audit = true; return 0;
	case 0x4101: S.no_audit = true; return 0;
	case 0x4102: inspect_opts.keep_going = true; S.implied = true; return 0;
	case 0x4103: inspect_opts.report_path = arg; return 0;
	case 0x4104: inspect_opts.dump_pt = arg; S.implied = true; return parse_dump(arg);
	case 0x4105: inspect_opts.dot_dir = arg; S.implied = true; return 0;
	case 0x4106:
		if (!mutate_kind_valid(arg))
			return bad("--mutate kind (writable, leak, drop, free-map, dirty-old)", arg);
		inspect_opts.mutate = arg;
		S.implied = true;
		return 0;
	case 0x4107: {
		char *end;
		unsigned long v = strtoul(arg, &end, 10);
		if (!*arg || *end || *arg == '-' || v == 0 || v > 1000000)
			return bad("--audit-full-every count (1..1000000)", arg);
		S.full_every = (unsigned)v;
		return 0;
	}
	case 0x4108: S.no_dirty = true; return 0;
	default:
		return -1;
	}
}

void inspect_usage(FILE *f)
{
	fprintf(f,
		"\n"
		"Audit options (the VMM checks the guest's COW invariants from outside):\n"
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
		"      --no-dirty-log    no KVM dirty logging (by default, audited runs log\n"
		"                        dirty pages and check that a COW fault wrote the\n"
		"                        new frame and the PTE's table, never the old frame)\n"
		"      --audit-continue  report violations but let the guest run on\n"
		"      --report FILE     write the run's report as JSON (schema: see\n"
		"                        doc/report-schema.md)\n"
		"      --dump-pt PID|all[@WHEN]  print page tables (info mem / info tlb style,\n"
		"                        with COW flag and refcounts) at WHEN: fork (the\n"
		"                        first fork checkpoint, default), cow (the first COW\n"
		"                        fault), N (the Nth checkpoint) or end\n"
		"      --dot DIR         Graphviz pictures of parent and child page tables at\n"
		"                        the first fork and around the first COW copy\n"
		"                        (DIR/*.dot, and *.svg when 'dot' is installed)\n"
		"      --mutate KIND     test the audit: at the first fork checkpoint the VMM\n"
		"                        breaks an invariant in guest memory; KIND is writable,\n"
		"                        leak, drop or free-map; or dirty-old: at the first\n"
		"                        COW fault that copies, KVM writes the shared old\n"
		"                        frame (contents restored: only the dirty log sees\n"
		"                        it); the run must end with status 1\n"
		"--dump-pt, --dot, --mutate and --audit-continue imply --audit (and override\n"
		"--bench's default).  A text summary of the audits goes to standard error at\n"
		"the end (not with -q).\n", AUDIT_FULL_EVERY_DEFAULT);
}

uint32_t inspect_boot_flags(bool bench)
{
	/* The VMM does not take the guest's word: every run is audited unless
	 * told not to, or timed (a checkpoint is a VM exit inside the loop). */
	if (S.no_audit)
		inspect_opts.audit = false;
	else if (S.implied || !bench)
		inspect_opts.audit = true;
	if (bench || S.no_dirty)
		snprintf(S.dirty_why, sizeof S.dirty_why, "%s", bench ? "timing run (--bench)" : "--no-dirty-log");
	return inspect_opts.audit ? COWVMM_BOOT_F_AUDIT : 0;
}

/* ---- per exit --------------------------------------------------------------- */

void inspect_count_exit(struct vm *vm)
{
	struct kvm_run *run = vm->run;
	int hc = -1;
	if (run->exit_reason == KVM_EXIT_IO && run->io.port >= COWVMM_HC_PORT_BASE &&
	    run->io.port < COWVMM_HC_PORT_BASE + COWVMM_HC_COUNT)
		hc = run->io.port - COWVMM_HC_PORT_BASE;
	report_exit(run->exit_reason, hc);
}

/* ---- checkpoints ------------------------------------------------------------- */

static struct audit *get_audit(struct vm *vm)
{
	if (S.a || !vm->have_desc || !inspect_opts.audit)
		return S.a;
	char err[200];
	S.a = audit_new(&vm->mem);
	if (S.a && audit_set_descriptor(S.a, &vm->desc, err, sizeof err)) {
		fprintf(stderr, "vmm: audit: %s\n", err);
		audit_free(S.a);
		S.a = NULL;
	}
	if (S.a)
		audit_set_full_every(S.a, S.full_every);
	if (S.a && !S.dirty_why[0]) {
		int r = dirty_enable(vm);
		S.dirty = r ? DL_FAILED : DL_ON;
		if (r)
			snprintf(S.dirty_why, sizeof S.dirty_why, "KVM_MEM_LOG_DIRTY_PAGES refused: %s", strerror(-r));
	}
	return S.a;
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
static void xlate_check(struct vm *vm, struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	struct kvm_sregs sr;
	if (S.xlate_off || kvm_try(vm->vcpu_fd, KVM_GET_SREGS, &sr) < 0)
		return;
	size_t np;
	const struct audit_proc *p = audit_procs(a, &np);
	for (size_t i = 0; i < np; i++) {
		if (!(p[i].cr3 & COWVMM_PTE_ADDR) || (p[i].cr3 & COWVMM_PTE_ADDR) != (sr.cr3 & COWVMM_PTE_ADDR) ||
		    p[i].state == COWVMM_PSTATE_ZOMBIE)
			continue;
		struct pick pk = { .n = 0 };
		const struct ptw_ops ops = { .leaf = pick_leaf };
		/* A local (cheap) checkpoint checks the faulting address only. */
		if (audit_last_full(a))
			ptw_walk(a->m, p[i].cr3, PTW_USER_LO, PTW_USER_HI, 0, &ops, &pk);
		if (cp->va && pk.n < 4)
			pk.va[pk.n++] = cp->va;
		for (int k = 0; k < pk.n; k++) {
			uint64_t ours = 0;
			enum ptw_error e = ptw_translate(a->m, sr.cr3, pk.va[k], NULL, &ours, NULL);
			struct kvm_translation tr = { .linear_address = pk.va[k] };
			if (kvm_try(vm->vcpu_fd, KVM_TRANSLATE, &tr) < 0) {
				vm_note(vm, "audit: KVM_TRANSLATE failed; walker cross-check disabled");
				S.xlate_off = true;
				return;
			}
			S.xlate_checked++;
			bool agree = tr.valid ? e == PTW_E_NONE && ours == tr.physical_address : e != PTW_E_NONE;
			if (!agree) {
				struct audit_violation v = {
					.kind = AV_TRANSLATE, .checkpoint = cp->checkpoint, .seq = audit_seq(a),
					.pid = p[i].pid, .va = pk.va[k], .frame = UINT64_MAX,
					.expected = tr.valid ? tr.physical_address : 0, .found = ours,
				};
				snprintf(v.detail, sizeof v.detail,
					 "walker says %s 0x%llx, KVM_TRANSLATE says %s 0x%llx", ptw_error_name(e),
					 (unsigned long long)ours, tr.valid ? "valid" : "invalid",
					 (unsigned long long)tr.physical_address);
				audit_add(a, &v);
			}
		}
	}
}

static void do_dump(struct vm *vm, struct audit *a, const char *when)
{
	fflush(stdout);
	printf("==== page tables (%s) ====\n", when);
	ptdump(stdout, a, S.dump_pid);
	printf("==== end of page tables ====\n");
	fflush(stdout);
	S.dumped = true;
	(void)vm;
}

static void pictures(struct vm *vm, struct audit *a, const struct cowvmm_hc_inspect *cp)
{
	const char *dir = inspect_opts.dot_dir;
	char title[160];
	int r = 0;
	if (cp->checkpoint == COWVMM_CP_FORK && !S.dot_fork_done) {
		S.dot_fork_done = true;
		snprintf(title, sizeof title, "after fork: parent pid %d, child pid %d", cp->pid, cp->pid2);
		r = dot_write(dir, "fork", title, a, cp->pid, cp->pid2, 0);
	} else if (cp->checkpoint == COWVMM_CP_COW_BEFORE && !S.dot_cow_done && a->before.valid) {
		S.dot_cow_pid = cp->pid;
		S.dot_cow_va = cp->va;
		S.dot_cow_other = a->before.nsharers ? a->before.sharer[0].pid : 0;
		snprintf(title, sizeof title, "COW fault of pid %d at 0x%llx: before", cp->pid,
			 (unsigned long long)cp->va);
		r = dot_write(dir, "cow-before", title, a, S.dot_cow_pid, S.dot_cow_other, cp->va);
	} else if (cp->checkpoint == COWVMM_CP_COW_AFTER && !S.dot_cow_done && S.dot_cow_pid == cp->pid &&
		   cp->frame_old != cp->frame_new) {
		S.dot_cow_done = true;
		snprintf(title, sizeof title, "COW fault of pid %d at 0x%llx: after (frame 0x%llx copied to 0x%llx)",
			 cp->pid, (unsigned long long)cp->va, (unsigned long long)cp->frame_old,
			 (unsigned long long)cp->frame_new);
		r = dot_write(dir, "cow-after", title, a, S.dot_cow_pid, S.dot_cow_other, cp->va);
	}
	if (r)
		fprintf(stderr, "vmm: --dot %s: %s\n", dir, strerror(-r));
	(void)vm;
}

/* KVM_GET_DIRTY_LOG, or NULL (and dirty logging off for the rest of the run). */
static const uint64_t *dirty_log(struct vm *vm, uint64_t *nbits)
{
	int err = 0;
	const uint64_t *bm = S.dirty == DL_ON ? dirty_fetch(vm, nbits, &err) : NULL;
	if (!bm && S.dirty == DL_ON) {
		S.dirty = DL_FAILED;
		snprintf(S.dirty_why, sizeof S.dirty_why, "KVM_GET_DIRTY_LOG failed: %s", strerror(-err));
		vm_note(vm, "audit: %s; dirty logging stopped", S.dirty_why);
	}
	return bm;
}

/* At CP_COW_BEFORE, last thing before the guest resolves the fault: reset the
 * log, so CP_COW_AFTER sees exactly what the resolution wrote.  A reset makes
 * KVM write-protect again every page written since the last one, and each of
 * those costs the guest a page fault into KVM on its next write (about 8 per
 * COW fault: ~7 ms each time under QEMU/TCG), so the log is checked at the
 * first COW fault and then at every Nth (N = --audit-full-every); between
 * two checks it is left alone and costs nothing.  --mutate dirty-old strikes
 * at the first checked fault that will copy (and keeps faults checked until
 * it has). */
static void dirty_arm(struct vm *vm, struct audit *a)
{
	uint64_t nbits;
	bool pending = inspect_opts.mutate && !strcmp(inspect_opts.mutate, "dirty-old") && !S.mutated;
	bool due = S.cow_faults++ % S.full_every == 0 || pending;
	if (!due || S.dirty != DL_ON || !dirty_log(vm, &nbits))
		return;
	S.dirty_armed = true;
	const struct cow_snapshot *s = &a->before;
	if (pending && s->valid && s->nsharers) {
		int r = dirty_kvm_write(vm, s->frame * COWVMM_PAGE_SIZE);
		S.mutated = !r;
		if (r)
			vm_note(vm, "mutate: dirty-old: KVM refused to write guest memory: %s", strerror(-r));
		else
			vm_note(vm, "mutate: had KVM write the shared old frame 0x%llx of pid %d's COW fault at 0x%llx "
				"(12 bytes, restored)", (unsigned long long)s->frame, s->pid, (unsigned long long)s->va);
	}
}

int hc_inspect(struct vm *vm, struct cowvmm_hc_inspect *arg)
{
	struct cowvmm_hc_inspect cp;
	memcpy(&cp, arg, sizeof cp); /* one read: the guest cannot change it under us */
	struct audit *a = get_audit(vm);
	if (!a && !inspect_opts.audit)
		return vm_guest_error(vm, "hypercall INSPECT although the boot info says the VMM does not audit");
	if (!a)
		return vm_guest_error(vm, "hypercall INSPECT: the guest did not describe its memory (DESCRIBE)");
	char what[200];
	if (inspect_opts.mutate && !S.mutated && mutate_apply(a, inspect_opts.mutate, &cp, what, sizeof what)) {
		S.mutated = true;
		vm_note(vm, "mutate: %s", what);
	}
	const uint64_t *dirty = NULL;
	uint64_t nbits = 0;
	if (cp.checkpoint == COWVMM_CP_COW_AFTER && S.dirty_armed)
		dirty = dirty_log(vm, &nbits);
	S.dirty_armed = false;
	audit_run(a, &cp);
	if (dirty) {
		audit_dirty_check(a, &cp, dirty, nbits);
		S.dirty_checked++;
	}
	xlate_check(vm, a, &cp);
	size_t nv;
	uint64_t total;
	const struct audit_violation *v = audit_violations(a, &nv, &total);
	report_checkpoint(&cp, a);
	uint64_t seq = audit_seq(a);
	if (inspect_opts.dump_pt && !S.dumped &&
	    ((S.dump_at == AT_FORK && cp.checkpoint == COWVMM_CP_FORK) ||
	     (S.dump_at == AT_COW && cp.checkpoint == COWVMM_CP_COW_AFTER) ||
	     (S.dump_at == AT_SEQ && seq == S.dump_seq))) {
		char when[64];
		snprintf(when, sizeof when, "checkpoint %llu, %s", (unsigned long long)seq,
			 audit_checkpoint_name(cp.checkpoint));
		do_dump(vm, a, when);
	}
	if (inspect_opts.dot_dir)
		pictures(vm, a, &cp);
	arg->verdict = total > 0xffffffffu ? 0xffffffffu : (uint32_t)total;
	if (!total) {
		if (cp.checkpoint == COWVMM_CP_COW_BEFORE)
			dirty_arm(vm, a);
		return VMM_CONTINUE;
	}
	char buf[512];
	fflush(stdout);
	for (size_t i = 0; i < nv && i < 16; i++)
		fprintf(stderr, "vmm: audit violation at checkpoint %llu (%s): %s\n", (unsigned long long)seq,
			audit_checkpoint_name(cp.checkpoint), audit_format(&v[i], buf, sizeof buf));
	if (total > 16)
		fprintf(stderr, "vmm: ... %llu violation(s) in all at this checkpoint\n", (unsigned long long)total);
	return inspect_opts.keep_going ? VMM_CONTINUE : VMM_EXIT_GUEST_FAIL;
}

int inspect_finish(struct vm *vm, int status)
{
	struct audit *a = get_audit(vm);
	if (inspect_opts.dump_pt && !S.dumped && a)
		do_dump(vm, a, "end of run");
	fflush(stdout);
	uint64_t full = 0, local = 0, fallback = 0;
	if (a)
		audit_counts(a, &full, &local, &fallback);
	static const char *const dl_names[] = { "off", "on", "failed" };
	report_audit_info(full, local, fallback, S.full_every, dl_names[S.dirty], S.dirty_why, S.dirty_checked);
	if (inspect_opts.mutate && !S.mutated && a)
		fprintf(stderr, "vmm: mutate: %s was never applied (no checkpoint where it could be)\n",
			inspect_opts.mutate);
	if (!vm->quiet || (a && audit_seq(a) && status == VMM_EXIT_GUEST_FAIL)) {
		report_text(stderr, vm, status);
		if (a && inspect_opts.audit)
			fprintf(stderr, "vmm: audit: %llu full, %llu local COW checkpoint(s) (%llu sent on to a full "
				"audit); full audit every %u COW checkpoint(s)\n", (unsigned long long)full,
				(unsigned long long)local, (unsigned long long)fallback, S.full_every);
		if (a && inspect_opts.audit && S.dirty == DL_ON)
			fprintf(stderr, "vmm: dirty log: checked at %llu of %llu COW fault(s) (the first and every %uth)\n",
				(unsigned long long)S.dirty_checked, (unsigned long long)S.cow_faults, S.full_every);
		else if (a && inspect_opts.audit)
			fprintf(stderr, "vmm: dirty log: %s (%s)\n", dl_names[S.dirty], S.dirty_why);
		if (S.xlate_checked)
			fprintf(stderr, "vmm: walker cross-checked against KVM_TRANSLATE at %llu address(es)\n",
				(unsigned long long)S.xlate_checked);
	}
	if (inspect_opts.report_path) {
		int r = report_json(inspect_opts.report_path, vm, status);
		if (r) {
			fprintf(stderr, "vmm: cannot write report %s: %s\n", inspect_opts.report_path, strerror(-r));
			if (status == VMM_EXIT_OK)
				status = VMM_EXIT_USAGE;
		}
	}
	audit_free(S.a);
	S.a = NULL;
	dirty_free();
	return status;
}
