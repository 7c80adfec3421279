/* tests/unit/test-explore.c — --explore's strategies without KVM: the plan grammar, PCT's priorities and change points, random, replay and the schedule string (TAP). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore.h"
#include "tap.h"

static bool parses(const char *arg, struct explore_plan *p)
{
	char err[200] = "";
	int r = explore_parse(arg, p, err, sizeof err);
	if (r)
		diag("'%s': %s", arg, err);
	return r == 0;
}

static void test_grammar(void)
{
	struct explore_plan p;
	OK(parses("pct:42", &p) && p.kind == EXPLORE_PCT && p.seed == 42 && p.depth == 2 && p.steps == EXPLORE_PCT_K,
	   "pct:42: depth 2 and K %u by default", EXPLORE_PCT_K);
	OK(parses("pct:7:3:500", &p) && p.depth == 3 && p.steps == 500, "pct:7:3:500: depth 3, K 500");
	OK(parses("random:18446744073709551615", &p) && p.kind == EXPLORE_RANDOM && p.seed == UINT64_MAX,
	   "random: the largest 64-bit seed");
	OK(parses("replay:0x3.1.0x2", &p) && p.kind == EXPLORE_REPLAY && p.nreplay == 6 &&
	   !memcmp(p.replay, "\0\0\0\1\0\0", 6), "replay:0x3.1.0x2 is 0,0,0,1,0,0");
	explore_plan_free(&p);
	const char *bad[] = { "", "pct", "pct:", "pct:x", "pct:1:0", "pct:1:9", "pct:1:2:0", "pct:1:2:3:4",
			      "random:1:2", "random:-1", "pct:18446744073709551616", "replay:", "replay:.",
			      "replay:0.", "replay:32", "replay:0x0", "replay:1x", "replay:x3", "replay:0x1000001",
			      "dfs:1", "replay:0 1" };
	int rejected = 0;
	char err[200];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		if (explore_parse(bad[i], &p, err, sizeof err) == -1 && err[0] && p.kind == EXPLORE_OFF && !p.replay)
			rejected++;
		else
			diag("accepted: '%s'", bad[i]);
	}
	EQ(rejected, (int)(sizeof bad / sizeof bad[0]), "malformed plans are refused, each with a reason");
}

/* The choices of `arg` over `n` points reached by the vCPU chosen last,
 * with eligible(i) at point i; formatted into out. */
static void run(const char *arg, unsigned nvcpus, unsigned n, uint32_t (*elig)(unsigned), unsigned *choices,
		char *out, size_t outsz, uint64_t *diverged)
{
	struct explore_plan p;
	char err[200];
	explore_parse(arg, &p, err, sizeof err);
	struct explore_sched s;
	explore_sched_init(&s, &p, nvcpus, err, sizeof err);
	unsigned cur = 0;
	for (unsigned i = 0; i < n; i++)
		cur = choices[i] = explore_choose(&s, cur, elig(i));
	if (out)
		explore_format(&s, out, outsz);
	if (diverged)
		*diverged = s.diverged;
	explore_sched_free(&s);
	explore_plan_free(&p);
}

static uint32_t all4(unsigned i) { (void)i; return 0xf; }
static uint32_t varying(unsigned i) { return (uint32_t)((i * 2654435761u) >> 28) | 1u << (i % 4); }

static void test_pct(void)
{
	enum { N = 400 };
	unsigned a[N], b[N];
	run("pct:5:1", 4, N, all4, a, NULL, 0, NULL);
	int same = 1;
	for (int i = 1; i < N; i++)
		same &= a[i] == a[0];
	OK(same, "pct depth 1: the highest-priority vCPU runs at every point (vCPU %u)", a[0]);
	/* Depth 2 with K = N: one change point in 1..N, after which another vCPU runs for good. */
	run("pct:5:2:400", 4, N, all4, a, NULL, 0, NULL);
	int changes = 0;
	for (int i = 1; i < N; i++)
		changes += a[i] != a[i - 1];
	OK(changes <= 1, "pct depth 2: at most one switch when every vCPU stays eligible (%d)", changes);
	/* Over seeds, the first runner and the change point vary. */
	unsigned firsts = 0, switched = 0;
	for (unsigned seed = 1; seed <= 40; seed++) {
		char arg[40];
		snprintf(arg, sizeof arg, "pct:%u:2:%d", seed, N);
		run(arg, 4, N, all4, a, NULL, 0, NULL);
		firsts |= 1u << a[0];
		switched += a[N - 1] != a[0];
	}
	OK(firsts == 0xf, "pct: over 40 seeds every vCPU gets to run first (mask 0x%x)", firsts);
	OK(switched > 30, "pct depth 2: in most runs the change point comes within the run (%u of 40)", switched);
	run("pct:9:3:100", 4, N, varying, a, NULL, 0, NULL);
	run("pct:9:3:100", 4, N, varying, b, NULL, 0, NULL);
	OK(!memcmp(a, b, sizeof a), "pct: the same seed and points give the same choices");
	int ok_elig = 1;
	for (int i = 0; i < N; i++)
		ok_elig &= varying((unsigned)i) >> a[i] & 1;
	OK(ok_elig, "pct: every choice is an eligible vCPU");
}

static void test_random_and_replay(void)
{
	enum { N = 500 };
	unsigned a[N], b[N];
	char sched[8192];
	uint64_t div = 99;
	run("random:3", 4, N, varying, a, sched, sizeof sched, NULL);
	int ok_elig = 1;
	unsigned seen = 0;
	for (int i = 0; i < N; i++) {
		ok_elig &= varying((unsigned)i) >> a[i] & 1;
		seen |= 1u << a[i];
	}
	OK(ok_elig && seen == 0xf, "random: only eligible vCPUs, all of them over %d points", N);
	char arg[8300];
	snprintf(arg, sizeof arg, "replay:%s", sched);
	run(arg, 4, N, varying, b, NULL, 0, &div);
	OK(!memcmp(a, b, sizeof a) && div == 0, "the schedule a run took, replayed, makes the same %d choices (%llu divergences)",
	   N, (unsigned long long)div);
	/* A replay whose choice is not eligible: counted, the run goes on with the vCPU at the point. */
	run("replay:0x2.3.0", 4, 4, all4, a, NULL, 0, NULL);
	OK(a[0] == 0 && a[1] == 0 && a[2] == 3 && a[3] == 0, "replay:0x2.3.0 chooses 0, 0, 3, 0");
	struct explore_plan p;
	struct explore_sched s;
	char err[200];
	explore_parse("replay:2.1", &p, err, sizeof err);
	explore_sched_init(&s, &p, 4, err, sizeof err);
	unsigned c1 = explore_choose(&s, 1, 0x3); /* vCPU 2 not eligible */
	unsigned c2 = explore_choose(&s, 1, 0x3);
	unsigned c3 = explore_choose(&s, 0, 0x3); /* past the schedule: stays */
	OK(c1 == 1 && c2 == 1 && c3 == 0 && s.diverged == 1,
	   "replay: an ineligible choice is one divergence, the vCPU at the point goes on; past the end it stays");
	explore_sched_free(&s);
	explore_plan_free(&p);
	explore_parse("replay:5", &p, err, sizeof err);
	OK(explore_sched_init(&s, &p, 4, err, sizeof err) == -1 && strstr(err, "vCPU 5"),
	   "replay naming a vCPU the run does not have is refused: %s", err);
	explore_plan_free(&p);
}

static void test_format(void)
{
	struct explore_plan p;
	struct explore_sched s;
	char err[200], buf[64];
	explore_parse("random:1", &p, err, sizeof err);
	explore_sched_init(&s, &p, 2, err, sizeof err);
	explore_format(&s, buf, sizeof buf);
	OK(buf[0] == 0, "no point: an empty schedule");
	for (int i = 0; i < 12; i++)
		explore_choose(&s, 0, 0x1);
	for (int i = 0; i < 3; i++)
		explore_choose(&s, i ? 1 : 0, 0x2); /* reached by 0, then by 1 (the runner) */
	explore_choose(&s, 1, 0x1);
	OK(explore_format(&s, buf, sizeof buf) == 0 && !strcmp(buf, "0x12.1x3.0"), "runs are written as CPUxCOUNT: %s",
	   buf);
	OK(s.switches == 2, "two switches counted (%llu)", (unsigned long long)s.switches);
	OK(explore_format(&s, buf, 6) == -1, "a buffer too small is an error");
	explore_sched_free(&s);
	explore_plan_free(&p);
}

int main(void)
{
	test_grammar();
	test_pct();
	test_random_and_replay();
	test_format();
	return tap_done();
}
