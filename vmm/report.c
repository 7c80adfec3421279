/* vmm/report.c — the run's audit record: checkpoints, violations, per-process pages, exits; as text and versioned JSON. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/kvm.h>

#include "config.h"
#include "books.h"
#include "cowvmm/names.h"
#include "explore.h"
#include "dirty.h"
#include "inspect.h"
#include "mutate.h"
#include "report.h"
#include "vmm.h"

#define MAX_VIOLATIONS 256   /* kept for the report; the count goes on */
#define MAX_CHECKPOINTS 4096 /* checkpoint records kept for the JSON list */
#define MAX_EXIT 64
/* Processes remembered for the report: a guest can make any number of pids
 * (fork/exit in a loop); past this many the rest are counted, not kept. */
#define MAX_PROC_RECS 4096
#define PROC_HASH (2 * MAX_PROC_RECS) /* open addressing, power of two */

struct cp_rec {
	uint64_t seq;
	unsigned vcpu;            /* the vCPU that reached it */
	struct cowvmm_hc_inspect cp;
	uint32_t violations;
	uint64_t ns;
	bool full;
};

struct proc_rec {
	struct audit_proc last; /* as of the last audit that saw it alive */
	uint64_t audits;        /* audits that saw it */
	uint64_t peak_pages, peak_cow, peak_shared;
};

struct report_state {
	const char *path;                      /* --report FILE */
	uint64_t by_kind[COWVMM_CP_COUNT + 1]; /* last slot: unknown kinds */
	uint64_t audits, violations, ns_total, ns_max;
	struct audit_violation v[MAX_VIOLATIONS];
	size_t nv;
	struct cp_rec *cps;
	size_t ncps;
	struct proc_rec *procs;
	size_t nprocs, cap_procs;
	uint32_t proc_hash[PROC_HASH]; /* pid -> index + 1 into procs, 0 = empty */
	bool procs_truncated;          /* some process was not recorded */
	/* Exit counts per vCPU: each vCPU's thread writes only its own row
	 * (no lock on the exit path); summed when reported. */
	struct {
		uint64_t exits[MAX_EXIT + 1], n;
		uint64_t hcs[COWVMM_HC_COUNT];
	} per_vcpu[VMM_MAX_VCPUS];
	/* The sums, made by sum_exits() before a report. */
	uint64_t exits[MAX_EXIT + 1], nexits;
	uint64_t hcs[COWVMM_HC_COUNT];
	uint64_t frames, free_frames;
	struct timespec start;
	bool started;
	uint64_t full, local, fallback;
	unsigned full_every;
};

static const struct vmm_module report_module;

static struct report_state *st(const struct vm *vm)
{
	return vm_state(vm, &report_module);
}

void report_audit_info(struct vm *vm, uint64_t full, uint64_t local, uint64_t fallback, unsigned full_every)
{
	struct report_state *R = st(vm);
	R->full = full;
	R->local = local;
	R->fallback = fallback;
	R->full_every = full_every;
}

static const char *const exit_names[MAX_EXIT + 1] = {
	[KVM_EXIT_UNKNOWN] = "unknown", [KVM_EXIT_EXCEPTION] = "exception", [KVM_EXIT_IO] = "io",
	[KVM_EXIT_HYPERCALL] = "hypercall", [KVM_EXIT_DEBUG] = "debug", [KVM_EXIT_HLT] = "hlt",
	[KVM_EXIT_MMIO] = "mmio", [KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window_open",
	[KVM_EXIT_SHUTDOWN] = "shutdown", [KVM_EXIT_FAIL_ENTRY] = "fail_entry", [KVM_EXIT_INTR] = "intr",
	[KVM_EXIT_INTERNAL_ERROR] = "internal_error", [MAX_EXIT] = "other",
};

static const char *exit_name(unsigned r, char buf[16])
{
	if (r < MAX_EXIT && exit_names[r])
		return exit_names[r];
	snprintf(buf, 16, "reason_%u", r);
	return buf;
}

static void report_exit(struct vcpu *v)
{
	struct report_state *R = st(v->vm);
	struct kvm_run *run = v->run;
	uint32_t reason = run->exit_reason;
	int hypercall = -1;
	if (reason == KVM_EXIT_IO && run->io.port >= COWVMM_HC_PORT_BASE &&
	    run->io.port < COWVMM_HC_PORT_BASE + COWVMM_HC_COUNT)
		hypercall = run->io.port - COWVMM_HC_PORT_BASE;
	if (v->id >= VMM_MAX_VCPUS)
		return;
	typeof(R->per_vcpu[0]) *c = &R->per_vcpu[v->id];
	c->n++;
	c->exits[reason < MAX_EXIT ? reason : MAX_EXIT]++;
	if (hypercall >= 0 && hypercall < COWVMM_HC_COUNT)
		c->hcs[hypercall]++;
}

/* The run starts with the first instruction (before any thread runs). */
static int report_boot(struct vm *vm, struct cowvmm_boot_info *bi)
{
	(void)bi;
	struct report_state *R = st(vm);
	clock_gettime(CLOCK_MONOTONIC, &R->start);
	R->started = true;
	return 0;
}

/* Sum every vCPU's counts (the run is over, or its threads are stopped). */
static void sum_exits(struct report_state *R)
{
	memset(R->exits, 0, sizeof R->exits);
	memset(R->hcs, 0, sizeof R->hcs);
	R->nexits = 0;
	for (unsigned i = 0; i < VMM_MAX_VCPUS; i++) {
		R->nexits += R->per_vcpu[i].n;
		for (unsigned k = 0; k <= MAX_EXIT; k++)
			R->exits[k] += R->per_vcpu[i].exits[k];
		for (unsigned k = 0; k < COWVMM_HC_COUNT; k++)
			R->hcs[k] += R->per_vcpu[i].hcs[k];
	}
}

/* The record of `pid`, found through the hash (a checkpoint costs O(live
 * processes), not O(every pid ever seen)); a new one if there is room. */
static struct proc_rec *proc_rec(struct report_state *R, int32_t pid)
{
	uint32_t h = ((uint32_t)pid * 2654435761u) & (PROC_HASH - 1);
	for (;; h = (h + 1) & (PROC_HASH - 1)) {
		uint32_t k = R->proc_hash[h];
		if (!k)
			break;
		if (R->procs[k - 1].last.pid == pid)
			return &R->procs[k - 1];
	}
	if (R->nprocs == MAX_PROC_RECS) {
		R->procs_truncated = true;
		return NULL;
	}
	if (R->nprocs == R->cap_procs) {
		size_t cap = R->cap_procs ? 2 * R->cap_procs : 64;
		struct proc_rec *p = realloc(R->procs, cap * sizeof *p);
		if (!p)
			return NULL;
		R->procs = p;
		R->cap_procs = cap;
	}
	struct proc_rec *r = &R->procs[R->nprocs++];
	memset(r, 0, sizeof *r);
	r->last.pid = pid;
	R->proc_hash[h] = (uint32_t)R->nprocs;
	return r;
}

void report_checkpoint(struct vm *vm, unsigned vcpu, const struct cowvmm_hc_inspect *cp, const struct audit *a)
{
	struct report_state *R = st(vm);
	size_t nv, np;
	uint64_t total;
	const struct audit_violation *v = audit_violations(a, &nv, &total);
	uint64_t ns = audit_last_ns(a);
	R->audits++;
	R->by_kind[cp->checkpoint < COWVMM_CP_COUNT ? cp->checkpoint : COWVMM_CP_COUNT]++;
	R->violations += total;
	R->ns_total += ns;
	if (ns > R->ns_max)
		R->ns_max = ns;
	for (size_t i = 0; i < nv && R->nv < MAX_VIOLATIONS; i++)
		R->v[R->nv++] = v[i];
	if (!R->cps)
		R->cps = calloc(MAX_CHECKPOINTS, sizeof *R->cps);
	if (R->cps && R->ncps < MAX_CHECKPOINTS)
		R->cps[R->ncps++] = (struct cp_rec){ audit_seq(a), vcpu, *cp, (uint32_t)total, ns, audit_last_full(a) };
	/* A local COW checkpoint walked nothing: pages and frames are the last full audit's. */
	if (!audit_last_full(a))
		return;
	const struct audit_proc *p = audit_procs(a, &np);
	for (size_t i = 0; i < np; i++) {
		if (!books_has_mm(p[i].state, p[i].cr3))
			continue;
		struct proc_rec *r = proc_rec(R, p[i].pid);
		if (!r)
			continue; /* past MAX_PROC_RECS: counted as truncated */
		r->last = p[i];
		r->audits++;
		if (p[i].pages > r->peak_pages)
			r->peak_pages = p[i].pages;
		if (p[i].cow > r->peak_cow)
			r->peak_cow = p[i].cow;
		if (p[i].shared > r->peak_shared)
			r->peak_shared = p[i].shared;
	}
	const struct cowvmm_hc_describe *d = audit_descriptor(a);
	if (d) {
		R->frames = d->nframes - d->first_frame;
		R->free_frames = audit_frames_free(a);
	}
}

static const char *const status_names[] = { "ok", "guest-failure", "usage", "no-kvm", "crash", "timeout" };

static const char *status_name(int st)
{
	return st >= 0 && st <= 5 ? status_names[st] : "unknown";
}

static double wall_s(const struct report_state *R)
{
	if (!R->started)
		return 0;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - R->start.tv_sec) + (t.tv_nsec - R->start.tv_nsec) / 1e9;
}

void report_text(const struct vm *vm, FILE *f, int status)
{
	struct report_state *R = st(vm);
	sum_exits(R);
	char buf[512], rbuf[16];
	fprintf(f, "vmm: audit: %" PRIu64 " checkpoint(s) audited (", R->audits);
	for (unsigned k = 0; k < COWVMM_CP_COUNT; k++)
		fprintf(f, "%s%s %" PRIu64, k ? ", " : "", audit_checkpoint_name(k), R->by_kind[k]);
	fprintf(f, "), %" PRIu64 " violation(s); audit time mean %.3f ms, max %.3f ms\n", R->violations,
		R->audits ? R->ns_total / 1e6 / R->audits : 0.0, R->ns_max / 1e6);
	for (size_t i = 0; i < R->nv; i++)
		fprintf(f, "vmm: violation at checkpoint %" PRIu64 " (%s): %s\n", R->v[i].seq,
			audit_checkpoint_name(R->v[i].checkpoint), audit_format(&R->v[i], buf, sizeof buf));
	if (R->violations > R->nv)
		fprintf(f, "vmm: ... %" PRIu64 " more violation(s) not listed\n", R->violations - R->nv);
	if (R->audits)
		fprintf(f, "vmm: frames: %" PRIu64 " managed, %" PRIu64 " free at the last audit\n", R->frames,
			R->free_frames);
	size_t shown = R->nprocs < 16 ? R->nprocs : 16;
	for (size_t i = 0; i < shown; i++) {
		const struct proc_rec *r = &R->procs[i];
		char group[40] = "";
		if (r->last.tgid != r->last.pid)
			snprintf(group, sizeof group, " (thread of %d)", r->last.tgid);
		fprintf(f, "vmm: pid %d%s (%s): last seen with %" PRIu64 " pages (%" PRIu64 " writable, %" PRIu64
			   " COW, %" PRIu64 " shared, %" PRIu64 " zero), %" PRIu64 " table pages; peak %" PRIu64
			   " pages, %" PRIu64 " COW\n",
			r->last.pid, group, r->last.name, r->last.pages, r->last.writable, r->last.cow, r->last.shared,
			r->last.zero, r->last.tables, r->peak_pages, r->peak_cow);
	}
	if (R->nprocs > shown)
		fprintf(f, "vmm: ... %zu more process(es) (see --report)\n", R->nprocs - shown);
	if (R->procs_truncated)
		fprintf(f, "vmm: (more than %d processes: the others were audited but not recorded)\n", MAX_PROC_RECS);
	fprintf(f, "vmm: VM exits: %" PRIu64 " (", R->nexits);
	bool first = true;
	for (unsigned r = 0; r <= MAX_EXIT; r++)
		if (R->exits[r]) {
			fprintf(f, "%s%s %" PRIu64, first ? "" : ", ", exit_name(r, rbuf), R->exits[r]);
			first = false;
		}
	fprintf(f, "); hypercalls:");
	for (unsigned h = 0; h < COWVMM_HC_COUNT; h++)
		if (R->hcs[h])
			fprintf(f, " %s %" PRIu64, cowvmm_hypercall_name(h), R->hcs[h]);
	fprintf(f, "; status %d (%s)\n", status, status_name(status));
}

/* ---- JSON ---------------------------------------------------------------- */

static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* 64-bit addresses as "0x..." strings: JSON numbers lose precision past 2^53. */
static void jhex(FILE *f, const char *key, uint64_t v, const char *sep)
{
	fprintf(f, "\"%s\": \"0x%" PRIx64 "\"%s", key, v, sep);
}

static void json_violation(FILE *f, const struct audit_violation *v, bool last)
{
	fprintf(f, "      {\"seq\": %" PRIu64 ", \"checkpoint\": \"%s\", \"kind\": \"%s\", \"pid\": %d, \"pid2\": %d, ",
		v->seq, audit_checkpoint_name(v->checkpoint), audit_kind_name(v->kind), v->pid, v->pid2);
	jhex(f, "va", v->va, ", ");
	jhex(f, "pte", v->pte, ", ");
	jhex(f, "pte2", v->pte2, ", ");
	if (v->frame == UINT64_MAX)
		fprintf(f, "\"frame\": null, ");
	else
		jhex(f, "frame", v->frame, ", ");
	fprintf(f, "\"expected\": %" PRIu64 ", \"found\": %" PRIu64 ", \"detail\": ", v->expected, v->found);
	jstr(f, v->detail);
	fprintf(f, "}%s\n", last ? "" : ",");
}

int report_json(struct vm *vm, const char *path, int status)
{
	struct report_state *R = st(vm);
	sum_exits(R);
	char rbuf[16];
	const char *dirty_state, *dirty_why;
	uint64_t dirty_checked;
	dirty_info(vm, &dirty_state, &dirty_why, &dirty_checked);
	struct outfile w;
	FILE *f = out_open(&w, &vm->files, path, NULL);
	if (!f)
		return -errno;
	char cmdline[COWVMM_CMDLINE_MAX] = "";
	const struct cowvmm_boot_info *bi = gmem_ptr(&vm->mem, COWVMM_BOOT_INFO_GPA, sizeof *bi);
	if (bi) {
		memcpy(cmdline, bi->cmdline, sizeof cmdline);
		cmdline[sizeof cmdline - 1] = 0;
	}
	fprintf(f, "{\n  \"schema\": \"cowvmm-report\",\n  \"version\": %d,\n", REPORT_SCHEMA_VERSION);
	fprintf(f, "  \"run\": {\"vmm_version\": \"%s\", \"abi_version\": %u, \"cmdline\": ", PACKAGE_VERSION,
		COWVMM_ABI_VERSION);
	jstr(f, cmdline);
	fprintf(f, ", \"ram_bytes\": %" PRIu64 ", \"cpus\": %u, \"audit\": %s, \"mutate\": ", vm->mem.size, vm->nvcpus,
		inspect_auditing(vm) ? "true" : "false");
	if (mutate_kind(vm))
		jstr(f, mutate_kind(vm));
	else
		fputs("null", f);
	fprintf(f, ", \"status\": %d, \"status_name\": \"%s\", \"wall_seconds\": %.3f},\n", status,
		status_name(status), wall_s(R));

	fprintf(f, "  \"checkpoints\": {\n    \"total\": %" PRIu64 ",\n    \"by_kind\": {", R->audits);
	for (unsigned k = 0; k < COWVMM_CP_COUNT; k++)
		fprintf(f, "%s\"%s\": %" PRIu64, k ? ", " : "", audit_checkpoint_name(k), R->by_kind[k]);
	fprintf(f, "},\n    \"list_truncated\": %s,\n    \"list\": [\n", R->audits > R->ncps ? "true" : "false");
	for (size_t i = 0; i < R->ncps; i++) {
		const struct cp_rec *c = &R->cps[i];
		fprintf(f, "      {\"seq\": %" PRIu64 ", \"kind\": \"%s\", \"vcpu\": %u, \"pid\": %d, \"pid2\": %d, \"label\": %u, ",
			c->seq, audit_checkpoint_name(c->cp.checkpoint), c->vcpu, c->cp.pid, c->cp.pid2, c->cp.label);
		jhex(f, "va", c->cp.va, ", ");
		jhex(f, "frame_old", c->cp.frame_old, ", ");
		jhex(f, "frame_new", c->cp.frame_new, ", ");
		fprintf(f, "\"violations\": %u, \"full\": %s, \"audit_us\": %.1f}%s\n", c->violations,
			c->full ? "true" : "false", c->ns / 1e3,
			i + 1 < R->ncps ? "," : "");
	}
	fprintf(f, "    ]\n  },\n");

	fprintf(f, "  \"audits\": {\"count\": %" PRIu64 ", \"time_us_total\": %.1f, \"time_us_mean\": %.1f, "
		   "\"time_us_max\": %.1f, \"managed_frames\": %" PRIu64 ", \"free_frames_last\": %" PRIu64 ",\n"
		   "             \"full\": %" PRIu64 ", \"local\": %" PRIu64 ", \"local_fallbacks\": %" PRIu64
		   ", \"full_every\": %u, \"dirty_log\": {\"state\": ",
		R->audits, R->ns_total / 1e3, R->audits ? R->ns_total / 1e3 / R->audits : 0.0, R->ns_max / 1e3,
		R->frames, R->free_frames, R->full, R->local, R->fallback, R->full_every);
	jstr(f, dirty_state);
	fprintf(f, ", \"reason\": ");
	jstr(f, dirty_why);
	fprintf(f, ", \"checked\": %" PRIu64 "}},\n", dirty_checked);

	fprintf(f, "  \"violations\": {\n    \"total\": %" PRIu64 ",\n    \"list_truncated\": %s,\n    \"list\": [\n",
		R->violations, R->violations > R->nv ? "true" : "false");
	for (size_t i = 0; i < R->nv; i++)
		json_violation(f, &R->v[i], i + 1 == R->nv);
	fprintf(f, "    ]\n  },\n");

	fprintf(f, "  \"processes_truncated\": %s,\n", R->procs_truncated ? "true" : "false");
	fprintf(f, "  \"processes\": [\n");
	for (size_t i = 0; i < R->nprocs; i++) {
		const struct proc_rec *r = &R->procs[i];
		fprintf(f, "    {\"pid\": %d, \"ppid\": %d, ", r->last.pid, r->last.ppid);
		if (r->last.tgid != r->last.pid) /* a thread: absent for a process that leads its own group */
			fprintf(f, "\"tgid\": %d, ", r->last.tgid);
		fprintf(f, "\"name\": ");
		jstr(f, r->last.name);
		fprintf(f, ", \"audits\": %" PRIu64 ", \"pages\": %" PRIu64 ", \"writable\": %" PRIu64 ", \"cow\": %" PRIu64
			   ", \"shared\": %" PRIu64 ", \"zero\": %" PRIu64 ", \"huge\": %" PRIu64 ", \"tables\": %" PRIu64
			   ", \"peak_pages\": %" PRIu64 ", \"peak_cow\": %" PRIu64 ", \"peak_shared\": %" PRIu64 "}%s\n",
			r->audits, r->last.pages, r->last.writable, r->last.cow, r->last.shared, r->last.zero,
			r->last.huge, r->last.tables, r->peak_pages, r->peak_cow, r->peak_shared,
			i + 1 < R->nprocs ? "," : "");
	}
	fprintf(f, "  ],\n");

	/* --explore: the plan, its points by kind, and the schedule taken. */
	struct explore_info ex;
	if (explore_info(vm, &ex)) {
		fprintf(f, "  \"explore\": {\"plan\": ");
		jstr(f, ex.plan);
		fprintf(f, ", \"points\": %" PRIu64 ", \"by_point\": {", ex.points);
		for (unsigned k = 0; k < COWVMM_SP_COUNT; k++)
			fprintf(f, "%s\"%s\": %" PRIu64, k ? ", " : "", cowvmm_sched_point_name(k), ex.by_point[k]);
		fprintf(f, "}, \"switches\": %" PRIu64 ", \"releases\": %" PRIu64 ", \"divergences\": %" PRIu64
			   ", \"schedule\": ", ex.switches, ex.releases, ex.diverged);
		if (ex.schedule)
			jstr(f, ex.schedule);
		else
			fputs("null", f);
		fprintf(f, ", \"schedule_complete\": %s},\n", ex.complete ? "true" : "false");
		free(ex.schedule);
	} else {
		fprintf(f, "  \"explore\": null,\n");
	}

	fprintf(f, "  \"exits\": {\"total\": %" PRIu64 ", \"by_reason\": {", R->nexits);
	bool first = true;
	for (unsigned r = 0; r <= MAX_EXIT; r++)
		if (R->exits[r]) {
			fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ", exit_name(r, rbuf), R->exits[r]);
			first = false;
		}
	fprintf(f, "}, \"hypercalls\": {");
	for (unsigned h = 0; h < COWVMM_HC_COUNT; h++)
		fprintf(f, "%s\"%s\": %" PRIu64, h ? ", " : "", cowvmm_hypercall_name(h), R->hcs[h]);
	fprintf(f, "}, \"by_vcpu\": [");
	for (unsigned i = 0; i < vm->nvcpus && i < VMM_MAX_VCPUS; i++)
		fprintf(f, "%s%" PRIu64, i ? ", " : "", R->per_vcpu[i].n);
	fprintf(f, "]}\n}\n");
	return out_close(&w);
}

/* ---- the module --------------------------------------------------------------- */

static const struct vmm_option report_options[] = {
	{ "report", true, 0 },
	{ NULL, false, 0 },
};

static int report_option(struct vm *vm, int id, const char *arg)
{
	(void)id;
	st(vm)->path = arg;
	if (out_allow(&vm->files, arg, OUT_FILE)) {
		fprintf(stderr, "vmm: --report %s: more than %d output files and directories\nTry 'vmm --help'.\n",
			arg, OUT_MAX);
		return VMM_EXIT_USAGE;
	}
	return 0;
}

static void report_usage(FILE *f)
{
	fprintf(f,
		"      --report FILE     write the run's report as JSON (schema: see\n"
		"                        doc/report-schema.md)\n");
}

static int report_finish(struct vm *vm, int status)
{
	const char *path = st(vm)->path;
	if (!path)
		return status;
	int r = report_json(vm, path, status);
	if (r) {
		fprintf(stderr, "vmm: cannot write report %s: %s\n", path, strerror(-r));
		if (status == VMM_EXIT_OK)
			status = VMM_EXIT_USAGE;
	}
	return status;
}

static void report_teardown(struct vm *vm)
{
	struct report_state *R = st(vm);
	free(R->cps);
	free(R->procs);
	R->cps = NULL;
	R->procs = NULL;
}

static const struct vmm_module report_module = {
	.name = "report",
	.order = 30,
	.state_size = sizeof(struct report_state),
	.options = report_options,
	.usage = report_usage,
	.option = report_option,
	.on_exit = report_exit,
	.boot = report_boot,
	.finish = report_finish,
	.teardown = report_teardown,
};
VMM_MODULE(report_module);
