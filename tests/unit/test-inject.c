/* tests/unit/test-inject.c — the --inject grammar and the plan page, without KVM. */
#include <string.h>

#include "tap.h"
#include "inject.h"
#include "vmm.h"

static struct inject_cfg c;
static char err[256];

static int parse(const char *spec)
{
	err[0] = 0;
	return inject_parse(&c, spec, err, sizeof err);
}

static void reset(void)
{
	memset(&c, 0, sizeof c);
}

static void good_alloc(void)
{
	reset();
	ok(parse("alloc:data:nth=3") == 0, "alloc:data:nth=3 parses (%s)", err);
	ok(c.plan.rule[COWVMM_SITE_DATA_FRAME].mode == COWVMM_INJ_NTH &&
	   c.plan.rule[COWVMM_SITE_DATA_FRAME].nth == 3, "  -> data rule NTH 3");
	ok(parse("alloc:pt:from=0x10") == 0 && c.plan.rule[COWVMM_SITE_PT_PAGE].mode == COWVMM_INJ_FROM_NTH &&
	   c.plan.rule[COWVMM_SITE_PT_PAGE].nth == 16, "alloc:pt:from=0x10 -> FROM_NTH 16");
	ok(parse("alloc:kstack:every=4") == 0 && c.plan.rule[COWVMM_SITE_KSTACK].mode == COWVMM_INJ_EVERY_NTH,
	   "alloc:kstack:every=4 -> EVERY_NTH");
	ok(parse("alloc:pipe:p=0.25") == 0 && c.plan.rule[COWVMM_SITE_PIPE].mode == COWVMM_INJ_RANDOM &&
	   c.plan.rule[COWVMM_SITE_PIPE].ppm == 250000, "alloc:pipe:p=0.25 -> RANDOM 250000 ppm");
	ok(parse("alloc:fd:ppm=7") == 0 && c.plan.rule[COWVMM_SITE_FDTABLE].ppm == 7, "alloc:fd:ppm=7");
	ok(parse("alloc:task:nth=1") == 0 && c.plan_armed && c.enabled && !c.plan.any_site,
	   "six sites, one rule each, armed");
	ok(parse("alloc:task:nth=2") == -1 && strstr(err, "already has a rule"), "a second rule for a site: %s", err);
	ok(parse("alloc:any:nth=1") == -1 && strstr(err, "cannot be combined"), "any after per-site: %s", err);

	reset();
	ok(parse("alloc:any:from=5") == 0 && c.plan.any_site == 1 && c.plan.rule[0].mode == COWVMM_INJ_FROM_NTH &&
	   c.plan.rule[0].nth == 5, "alloc:any:from=5 -> any_site, rule[0]");
	ok(parse("alloc:data:nth=1") == -1, "per-site after any is refused: %s", err);
	reset();
	ok(parse("count") == 0 && c.enabled && !c.plan_armed, "count: plan installed, nothing armed");
}

static void good_actions(void)
{
	reset();
	ok(parse("exc:pf-spurious@cow-after") == 0 && c.nactions == 1 && c.act[0].kind == INJ_PF_SPURIOUS &&
	   c.act[0].cp == COWVMM_CP_COW_AFTER && c.act[0].nth == 1, "exc:pf-spurious@cow-after: 1st point");
	ok(parse("exc:pf-cow@fork:3,cr2=0x400000,err=7") == 0 && c.act[1].kind == INJ_PF_COW &&
	   c.act[1].cp == COWVMM_CP_FORK && c.act[1].nth == 3 && c.act[1].have_addr &&
	   c.act[1].addr == 0x400000 && c.act[1].have_err && c.act[1].err == 7,
	   "exc:pf-cow@fork:3,cr2=..,err=..");
	ok(parse("exc:nmi@exits=100") == 0 && c.act[2].cp == INJECT_AT_EXITS && c.act[2].nth == 100,
	   "exc:nmi@exits=100");
	ok(parse("pte:free-frame@any:2,va=0x1000") == 0 && c.act[3].kind == INJ_FREE_FRAME &&
	   c.act[3].cp == INJECT_CP_ANY && c.act[3].addr == 0x1000, "pte:free-frame@any:2,va=");
	ok(parse("pte:set-cow@exit") == 0 && parse("pte:clear-p@cow-before") == 0 && parse("pte:clear-rw@user:9") == 0,
	   "every pte kind and point name");
	ok(!strcmp(c.act[1].spec, "exc:pf-cow@fork:3,cr2=0x400000,err=7"), "the spec is kept for reports");
}

static void bad(void)
{
	static const struct { const char *spec, *why; } cases[] = {
		{ "", "expected count" },
		{ "alloc", "expected count" },
		{ "alloc:data", "expected alloc:SITE:MODE" },
		{ "alloc:data:nth", "MODE=VALUE" },
		{ "alloc:heap:nth=1", "unknown site" },
		{ "alloc:data:after=1", "unknown mode" },
		{ "alloc:data:nth=0", "not a number >= 1" },
		{ "alloc:data:nth=-1", "not a number >= 1" },
		{ "alloc:data:nth=1x", "not a number >= 1" },
		{ "alloc:data:nth=99999999999999999999999", "not a number >= 1" },
		{ "alloc:data:p=0", "not in (0, 1]" },
		{ "alloc:data:p=1.01", "not in (0, 1]" },
		{ "alloc:data:p=nan", "not in (0, 1]" },
		{ "alloc:data:p=0.0000001", "below 1e-6" },
		{ "alloc:data:ppm=1000001", "not in 1..1000000" },
		{ "exc:pf-spurious", "KIND@WHEN" },
		{ "exc:segv@fork", "unknown exc kind" },
		{ "pte:nmi@fork", "unknown pte kind" },
		{ "exc:nmi@forks", "unknown point" },
		{ "exc:nmi@fork:0", "occurrence" },
		{ "exc:nmi@exits=0", "exits=" },
		{ "pte:clear-p@exits=3", "needs a checkpoint" },
		{ "exc:nmi@fork,cr2=0x1000", "does not apply" },
		{ "pte:clear-p@fork,err=2", "does not apply" },
		{ "exc:pf-cow@fork,cr2=0xffff888000000000", "not a user address" },
		{ "exc:pf-cow@fork,err=0x10000", "not a #PF error code" },
		{ "exc:pf-cow@fork,cr2", "not key=value" },
		{ "exc:pf-cow@fork,cr2=zz", "not a number" },
		{ "alloc:data:nth=1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111", "longer than" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		reset();
		int r = parse(cases[i].spec);
		ok(r == -1 && strstr(err, cases[i].why) && !c.enabled && c.nactions == 0 && !c.plan_armed,
		   "'%.40s' refused: %s", cases[i].spec, err);
	}
	reset();
	for (int i = 0; i < INJECT_MAX_ACTIONS; i++)
		parse("exc:nmi@fork");
	ok(parse("exc:nmi@fork") == -1 && strstr(err, "more than"), "at most %d actions: %s", INJECT_MAX_ACTIONS, err);
}

/* The plan page lands where the boot info says, with magic, seed and zeroed counters. */
static void install(void)
{
	struct vm vm;
	memset(&vm, 0, sizeof vm);
	vm.seed = 42;
	ok(vm_modules_init(&vm) == 0 && inject_state(&vm), "the inject module registered, with its state");
	ok(gmem_init(&vm.mem, 4u << 20) == 0, "4 MiB of guest RAM");
	struct cowvmm_boot_info *bi = boot_write_info(&vm);
	ok(inject_install(&vm, bi) == 0, "no --inject: nothing installed");
	ok(bi && bi->inject_gpa == 0, "boot info keeps inject_gpa 0");
	struct inject_cfg *c = &inject_state(&vm)->cfg;
	ok(inject_parse(c, "alloc:pt:nth=2", err, sizeof err) == 0, "one rule");
	c->plan.rule[COWVMM_SITE_PT_PAGE].calls = 99; /* must not leak into the guest */
	ok(inject_install(&vm, bi) == 0, "installed");
	ok(bi->inject_gpa && bi->inject_gpa % 8 == 0 && bi->inject_gpa + sizeof(struct cowvmm_inject_plan) <= COWVMM_BOOT_PT_GPA &&
	   (bi->inject_gpa >= COWVMM_BOOT_INFO_GPA + sizeof *bi || bi->inject_gpa + sizeof(struct cowvmm_inject_plan) <= COWVMM_BOOT_INFO_GPA),
	   "plan at 0x%llx: below the boot page tables, clear of the boot info", (unsigned long long)bi->inject_gpa);
	const struct cowvmm_inject_plan *p = gmem_ptr(&vm.mem, bi->inject_gpa, sizeof *p);
	ok(p && p->magic == COWVMM_INJECT_MAGIC && p->seed == 42 && p->rule[COWVMM_SITE_PT_PAGE].mode == COWVMM_INJ_NTH &&
	   p->rule[COWVMM_SITE_PT_PAGE].nth == 2 && p->rule[COWVMM_SITE_PT_PAGE].calls == 0,
	   "plan contents: magic, seed, rule, counters zero");
	gmem_free(&vm.mem);
	vm_modules_free(&vm);
}

int main(void)
{
	good_alloc();
	good_actions();
	bad();
	install();
	return tap_done();
}
