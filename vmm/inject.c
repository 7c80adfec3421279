/* vmm/inject.c — fault injection: the --inject grammar, the plan page in guest RAM, the end report. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "books.h"
#include "cowvmm/names.h"
#include "inject.h"
#include "vmm.h"

/* The plan page sits right after the boot info, below the kernel and the boot
 * page tables: memory the guest's allocator never manages. */
#define INJECT_PLAN_GPA (COWVMM_BOOT_INFO_GPA + COWVMM_PAGE_SIZE)

/* Checkpoint kinds of WHEN: the ABI's, then "any". */
static const char *cp_name(int cp)
{
	return cp == INJECT_CP_ANY ? "any" : cowvmm_checkpoint_name((uint32_t)cp);
}

/* Kinds: name, family prefix, whether an exit-count trigger makes sense
 * (a PTE edit needs a guest point that flushes its TLB afterwards). */
static const struct {
	const char *family, *name;
	bool at_exits;
} kinds[INJ_KIND_COUNT] = {
	[INJ_PF_SPURIOUS] = { "exc", "pf-spurious", true },
	[INJ_PF_COW] = { "exc", "pf-cow", true },
	[INJ_NMI] = { "exc", "nmi", true },
	[INJ_CLEAR_RW] = { "pte", "clear-rw", false },
	[INJ_CLEAR_P] = { "pte", "clear-p", false },
	[INJ_SET_COW] = { "pte", "set-cow", false },
	[INJ_FREE_FRAME] = { "pte", "free-frame", false },
};

/* Alloc modes: key=value -> COWVMM_INJ_*. */
static const struct {
	const char *key;
	uint32_t mode;
} modes[] = {
	{ "nth", COWVMM_INJ_NTH },
	{ "from", COWVMM_INJ_FROM_NTH },
	{ "every", COWVMM_INJ_EVERY_NTH },
	{ "p", COWVMM_INJ_RANDOM },
	{ "ppm", COWVMM_INJ_RANDOM },
};

const char *inject_kind_name(enum inject_kind k)
{
	return (unsigned)k < INJ_KIND_COUNT ? kinds[k].name : "?";
}

const char *inject_site_name(unsigned site)
{
	return cowvmm_site_name(site);
}

const char *inject_cp_name(int cp)
{
	if (cp == INJECT_AT_EXITS)
		return "exits";
	return cp >= 0 && cp <= INJECT_CP_ANY ? cp_name(cp) : "?";
}

static int fail(char *err, size_t errsz, const char *spec, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errsz, const char *spec, const char *fmt, ...)
{
	char why[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	snprintf(err, errsz, "--inject '%s': %s", spec, why);
	return -1;
}

/* Strict unsigned number (decimal or 0x hex), whole string, no sign. */
static bool parse_u64(const char *s, uint64_t *out)
{
	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static int parse_alloc(struct inject_cfg *c, const char *spec, char *rest, char *err, size_t errsz)
{
	char *site = rest, *mode = strchr(rest, ':');
	if (!mode)
		return fail(err, errsz, spec, "expected alloc:SITE:MODE=VALUE");
	*mode++ = 0;
	char *val = strchr(mode, '=');
	if (!val)
		return fail(err, errsz, spec, "expected MODE=VALUE after the site (nth=, from=, every=, p=, ppm=)");
	*val++ = 0;

	bool any = strcmp(site, "any") == 0;
	unsigned s = 0;
	if (!any) {
		for (s = 0; s < COWVMM_SITE_COUNT && strcmp(site, cowvmm_site_name(s)); s++)
			;
		if (s == COWVMM_SITE_COUNT)
			return fail(err, errsz, spec, "unknown site '%s' (data|pt|task|kstack|fd|pipe|any)", site);
	}
	size_t m;
	for (m = 0; m < sizeof modes / sizeof modes[0] && strcmp(mode, modes[m].key); m++)
		;
	if (m == sizeof modes / sizeof modes[0])
		return fail(err, errsz, spec, "unknown mode '%s' (nth|from|every|p|ppm)", mode);

	struct cowvmm_inject_rule r = { .mode = modes[m].mode };
	if (!strcmp(mode, "p")) {
		char *end;
		errno = 0;
		double p = strtod(val, &end);
		if (errno || *end || end == val || !(p > 0.0 && p <= 1.0))
			return fail(err, errsz, spec, "probability '%s' is not in (0, 1]", val);
		r.ppm = (uint32_t)(p * 1e6 + 0.5);
		if (r.ppm == 0)
			return fail(err, errsz, spec, "probability '%s' is below 1e-6", val);
	} else if (!strcmp(mode, "ppm")) {
		uint64_t v;
		if (!parse_u64(val, &v) || v == 0 || v > 1000000)
			return fail(err, errsz, spec, "ppm '%s' is not in 1..1000000", val);
		r.ppm = (uint32_t)v;
	} else if (!parse_u64(val, &r.nth) || r.nth == 0) {
		return fail(err, errsz, spec, "%s '%s' is not a number >= 1", mode, val);
	}

	/* `any` shares rule[0] with the data site: they exclude each other. */
	if (any && c->plan.any_site)
		return fail(err, errsz, spec, "site 'any' given twice");
	if (any) {
		for (unsigned i = 0; i < COWVMM_SITE_COUNT; i++)
			if (c->plan.rule[i].mode != COWVMM_INJ_OFF)
				return fail(err, errsz, spec, "site 'any' cannot be combined with per-site rules");
		c->plan.any_site = 1;
	} else {
		if (c->plan.any_site)
			return fail(err, errsz, spec, "per-site rules cannot be combined with site 'any'");
		if (c->plan.rule[s].mode != COWVMM_INJ_OFF)
			return fail(err, errsz, spec, "site '%s' already has a rule", site);
	}
	c->plan.rule[any ? 0 : s] = r;
	c->plan_armed = true;
	return 0;
}

/* WHEN = CP[:N] | exits=N, then ",key=value" options. */
static int parse_action(struct inject_cfg *c, const char *spec, const char *family, char *rest,
			char *err, size_t errsz)
{
	if (c->nactions == INJECT_MAX_ACTIONS)
		return fail(err, errsz, spec, "more than %d exc:/pte: actions", INJECT_MAX_ACTIONS);
	struct inject_action a = { .nth = 1 };
	snprintf(a.spec, sizeof a.spec, "%s", spec);

	char *when = strchr(rest, '@');
	if (!when)
		return fail(err, errsz, spec, "expected %s:KIND@WHEN", family);
	*when++ = 0;
	unsigned k;
	for (k = 0; k < INJ_KIND_COUNT; k++)
		if (!strcmp(kinds[k].family, family) && !strcmp(kinds[k].name, rest))
			break;
	if (k == INJ_KIND_COUNT)
		return fail(err, errsz, spec, "unknown %s kind '%s' (%s)", family, rest,
			    !strcmp(family, "exc") ? "pf-spurious|pf-cow|nmi"
						   : "clear-rw|clear-p|set-cow|free-frame");
	a.kind = (enum inject_kind)k;

	char *opts = strchr(when, ',');
	if (opts)
		*opts++ = 0;
	if (!strncmp(when, "exits=", 6)) {
		if (!kinds[k].at_exits)
			return fail(err, errsz, spec, "a PTE edit needs a checkpoint (the guest flushes its TLB there), not exits=");
		if (!parse_u64(when + 6, &a.nth) || a.nth == 0)
			return fail(err, errsz, spec, "exits='%s' is not a number >= 1", when + 6);
		a.cp = INJECT_AT_EXITS;
	} else {
		char *n = strchr(when, ':');
		if (n) {
			*n++ = 0;
			if (!parse_u64(n, &a.nth) || a.nth == 0)
				return fail(err, errsz, spec, "occurrence '%s' is not a number >= 1", n);
		}
		int cp;
		for (cp = 0; cp <= INJECT_CP_ANY && strcmp(when, cp_name(cp)); cp++)
			;
		if (cp > INJECT_CP_ANY)
			return fail(err, errsz, spec,
				    "unknown point '%s' (boot|fork|cow-before|cow-after|exit|user|any|exits=N)", when);
		a.cp = cp;
	}

	/* Options: cr2=/va= (target address) and err= (#PF error code). */
	for (char *o = opts; o && *o;) {
		char *next = strchr(o, ',');
		if (next)
			*next++ = 0;
		char *v = strchr(o, '=');
		if (!v)
			return fail(err, errsz, spec, "option '%s' is not key=value", o);
		*v++ = 0;
		uint64_t x;
		if (!parse_u64(v, &x))
			return fail(err, errsz, spec, "value '%s' of %s is not a number", v, o);
		bool pf = a.kind == INJ_PF_SPURIOUS || a.kind == INJ_PF_COW;
		if ((!strcmp(o, "cr2") && pf) || (!strcmp(o, "va") && a.kind >= INJ_CLEAR_RW)) {
			if (x >= (1ull << 47))
				return fail(err, errsz, spec, "%s=0x%llx is not a user address", o, (unsigned long long)x);
			a.have_addr = true;
			a.addr = x;
		} else if (!strcmp(o, "err") && pf) {
			if (x > 0xffff)
				return fail(err, errsz, spec, "err=0x%llx is not a #PF error code", (unsigned long long)x);
			a.have_err = true;
			a.err = x;
		} else {
			return fail(err, errsz, spec, "option '%s' does not apply to %s", o, kinds[k].name);
		}
		o = next;
	}
	c->act[c->nactions++] = a;
	return 0;
}

int inject_parse(struct inject_cfg *c, const char *spec, char *err, size_t errsz)
{
	char buf[INJECT_SPEC_MAX];
	if (strlen(spec) >= sizeof buf)
		return fail(err, errsz, spec, "longer than %u characters", INJECT_SPEC_MAX - 1);
	strcpy(buf, spec);
	int r;
	if (!strcmp(buf, "count"))
		r = 0;
	else if (!strncmp(buf, "alloc:", 6))
		r = parse_alloc(c, spec, buf + 6, err, errsz);
	else if (!strncmp(buf, "exc:", 4))
		r = parse_action(c, spec, "exc", buf + 4, err, errsz);
	else if (!strncmp(buf, "pte:", 4))
		r = parse_action(c, spec, "pte", buf + 4, err, errsz);
	else
		r = fail(err, errsz, spec, "expected count, alloc:..., exc:... or pte:...");
	if (r == 0)
		c->enabled = true;
	return r;
}

void inject_usage(FILE *f)
{
	fputs("Fault injection (--inject SPEC, repeatable; --seed N makes p= rules reproducible):\n"
	      "      --inject SPEC   fault injection, repeatable (grammar below)\n"
	      "  count                     install an all-off plan; report calls per site\n"
	      "  alloc:SITE:nth=N          fail only the N-th allocation at SITE (1-based)\n"
	      "  alloc:SITE:from=N         fail every allocation from the N-th on\n"
	      "  alloc:SITE:every=N        fail allocations N, 2N, 3N, ...\n"
	      "  alloc:SITE:p=P|ppm=N      fail with probability P (0<P<=1), seeded\n"
	      "     SITE = data|pt|task|kstack|fd|pipe|any (any: one count over all sites)\n"
	      "  exc:KIND@WHEN[,cr2=VA][,err=E]   KIND = pf-spurious|pf-cow|nmi\n"
	      "  pte:KIND@WHEN[,va=VA]            KIND = clear-rw|clear-p|set-cow|free-frame\n"
	      "     WHEN = CP[:N]: the N-th guest inject point of kind CP (default 1st),\n"
	      "            CP = boot|fork|cow-before|cow-after|exit|user|any;\n"
	      "          | exits=N: after the N-th VM exit (exc: only)\n"
	      "  At exit the plan's counters (calls, injected per site) and each action's\n"
	      "  outcome are printed as 'vmm: inject: ...' lines.  Tiny -m exhausts memory.\n",
	      f);
}

/* ---- The plan page and the report -------------------------------------- */

/* Write the plan page (when some --inject was given) and point the boot info
 * at it.  0 or an enum vmm_exit. */
int inject_install(struct vm *vm, struct cowvmm_boot_info *bi)
{
	struct inject_cfg *c = &inject_state(vm)->cfg;
	uint64_t seed = vm->seed;
	if (!c->enabled)
		return 0;
	struct cowvmm_inject_plan *p = gmem_ptr(&vm->mem, INJECT_PLAN_GPA, sizeof *p);
	if (!p || !bi) {
		fprintf(stderr, "vmm: inject: no room for the plan page in guest RAM\n");
		return VMM_EXIT_USAGE;
	}
	c->plan.magic = COWVMM_INJECT_MAGIC;
	c->plan.seed = seed;
	memcpy(p, &c->plan, sizeof *p);
	for (unsigned i = 0; i < COWVMM_SITE_COUNT; i++)
		p->rule[i].calls = p->rule[i].injected = 0;
	c->plan_gpa = INJECT_PLAN_GPA;
	bi->inject_gpa = INJECT_PLAN_GPA;
	return 0;
}

static const char *mode_text(const struct cowvmm_inject_rule *r, char *buf, size_t n)
{
	switch (r->mode) {
	case COWVMM_INJ_OFF: return "off";
	case COWVMM_INJ_NTH: snprintf(buf, n, "nth=%" PRIu64, r->nth); break;
	case COWVMM_INJ_FROM_NTH: snprintf(buf, n, "from=%" PRIu64, r->nth); break;
	case COWVMM_INJ_EVERY_NTH: snprintf(buf, n, "every=%" PRIu64, r->nth); break;
	case COWVMM_INJ_RANDOM: snprintf(buf, n, "ppm=%" PRIu32, r->ppm); break;
	default: return "?";
	}
	return buf;
}

/* "vmm: inject: ..." lines: per-site calls/injected, each action's outcome,
 * and the guest's counters. */
static int inject_finish(struct vm *vm, int status)
{
	struct inject_cfg *c = &inject_state(vm)->cfg;
	if (!c->enabled)
		return status;
	/* The counters are OUT fields: numbers only, printed as the guest left them. */
	const struct cowvmm_inject_plan *p = gmem_ptr(&vm->mem, c->plan_gpa, sizeof *p);
	if (!c->plan_gpa || !p) {
		fprintf(stderr, "vmm: inject: plan not installed\n");
		return status;
	}
	uint64_t calls = 0, injected = 0;
	for (unsigned i = 0; i < COWVMM_SITE_COUNT; i++) {
		char m[40];
		const char *name = c->plan.any_site && i == 0 ? "any" : cowvmm_site_name(i);
		fprintf(stderr, "vmm: inject: site=%s rule=%s calls=%" PRIu64 " injected=%" PRIu64 "\n",
			name, mode_text(&c->plan.rule[i], m, sizeof m), p->rule[i].calls,
			p->rule[i].injected);
		calls += p->rule[i].calls;
		injected += p->rule[i].injected;
	}
	unsigned applied = 0;
	for (unsigned i = 0; i < c->nactions; i++) {
		const struct inject_action *a = &c->act[i];
		applied += a->applied;
		fprintf(stderr, "vmm: inject: action '%s' %s%s%s\n", a->spec,
			a->applied ? "applied" : a->fired ? "not-applied" : "not-reached",
			a->result[0] ? ": " : "", a->result);
	}
	/* Which inject points the guest reached: a campaign aims its exc:/pte:
	 * actions at the kinds that occur. */
	fprintf(stderr, "vmm: inject: points");
	for (int cp = 0; cp < COWVMM_CP_COUNT; cp++)
		fprintf(stderr, " %s=%" PRIu64, cowvmm_checkpoint_name((uint32_t)cp), c->points[cp]);
	fputc('\n', stderr);
	fprintf(stderr, "vmm: inject: total calls=%" PRIu64 " injected=%" PRIu64
		" actions=%u applied=%u exits=%" PRIu64 "\n",
		calls, injected, c->nactions, applied, c->exits);
	const struct books *b = vm_books(vm);
	if (b->valid) {
		const struct cowvmm_guest_stats *s = gmem_ptr(&vm->mem, b->d.stats_gpa, sizeof *s);
		const uint64_t *fr = gmem_ptr(&vm->mem, b->d.free_count_gpa, sizeof *fr);
		if (s)
			fprintf(stderr, "vmm: inject: guest forks=%" PRIu64 " fork_failures=%" PRIu64
				" cow_copies=%" PRIu64 " oom_kills=%" PRIu64 " segv_kills=%" PRIu64
				" spurious_faults=%" PRIu64 " nmis=%" PRIu64 " free_frames=%" PRIu64 "\n",
				s->forks, s->fork_failures, s->cow_copies, s->oom_kills, s->segv_kills,
				s->spurious_faults, s->nmis, fr ? *fr : 0);
	}
	return status;
}

/* ---- the module ---------------------------------------------------------- */

static const struct vmm_module inject_module;

struct inject_state *inject_state(const struct vm *vm)
{
	return vm_state(vm, &inject_module);
}

static const struct vmm_option inject_options[] = {
	{ "inject", true, 0 },
	{ NULL, false, 0 },
};

static int inject_option(struct vm *vm, int id, const char *arg)
{
	(void)id;
	char why[256];
	if (inject_parse(&inject_state(vm)->cfg, arg, why, sizeof why)) {
		fprintf(stderr, "vmm: %s\nTry 'vmm --help'.\n", why);
		return VMM_EXIT_USAGE;
	}
	return 0;
}

static void inject_help(FILE *f)
{
	fputc('\n', f);
	inject_usage(f);
}

static int inject_setup(struct vm *vm)
{
	vm_register_hypercall(vm, COWVMM_HC_INJECT, sizeof(struct cowvmm_hc_inject_point), inject_hc);
	/* It edits PTEs other CPUs may be walking, and counts points: alone. */
	vm_hypercall_stops_world(vm, COWVMM_HC_INJECT);
	vm_register_exit(vm, KVM_EXIT_DEBUG, inject_on_debug); /* an armed user-mode #PF */
	return 0;
}

static const struct vmm_module inject_module = {
	.name = "inject",
	.order = 10,
	.state_size = sizeof(struct inject_state),
	.options = inject_options,
	.usage = inject_help,
	.option = inject_option,
	.setup = inject_setup,
	.boot = inject_install,
	.on_exit = inject_on_exit,
	.finish = inject_finish,
};
VMM_MODULE(inject_module);
