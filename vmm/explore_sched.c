/* vmm/explore_sched.c — --explore's strategies: the plan's grammar, PCT, random and replay choices, the schedule taken as a replayable string (pure). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore.h"

static int fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Decimal digits [s, end) as a number <= max: true and *v. */
static bool num(const char *s, const char *end, uint64_t max, uint64_t *v)
{
	if (s >= end || end - s > 20)
		return false;
	uint64_t x = 0;
	for (const char *p = s; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		unsigned d = (unsigned)(*p - '0');
		if (d > max || x > (max - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	return true;
}

static int parse_replay(const char *s, struct explore_plan *p, char *err, size_t n)
{
	size_t cap = 64, len = 0;
	uint8_t *v = malloc(cap);
	if (!v)
		return fail(err, n, "out of memory");
	if (!*s) {
		free(v);
		return fail(err, n, "replay: an empty schedule");
	}
	while (*s) {
		const char *dot = strchr(s, '.');
		const char *end = dot ? dot : s + strlen(s);
		const char *x = memchr(s, 'x', (size_t)(end - s));
		uint64_t cpu, count = 1;
		if (!num(s, x ? x : end, EXPLORE_MAX_VCPUS - 1, &cpu) ||
		    (x && (!num(x + 1, end, EXPLORE_REPLAY_MAX, &count) || count == 0))) {
			free(v);
			return fail(err, n, "replay: bad step '%.*s' (CPU or CPUxCOUNT: a vCPU below %u, a count from 1)",
				    (int)(end - s > 40 ? 40 : end - s), s, EXPLORE_MAX_VCPUS);
		}
		if (count > EXPLORE_REPLAY_MAX - len) {
			free(v);
			return fail(err, n, "replay: more than %u points", EXPLORE_REPLAY_MAX);
		}
		if (len + count > cap) {
			while (cap < len + count)
				cap *= 2;
			uint8_t *nv = realloc(v, cap);
			if (!nv) {
				free(v);
				return fail(err, n, "out of memory");
			}
			v = nv;
		}
		memset(v + len, (int)cpu, (size_t)count);
		len += count;
		if (!dot)
			break;
		s = dot + 1;
		if (!*s) {
			free(v);
			return fail(err, n, "replay: the schedule ends with '.'");
		}
	}
	p->replay = v;
	p->nreplay = len;
	return 0;
}

int explore_parse(const char *arg, struct explore_plan *p, char *err, size_t errsz)
{
	memset(p, 0, sizeof *p);
	const char *colon = strchr(arg, ':');
	size_t klen = colon ? (size_t)(colon - arg) : strlen(arg);
	const char *rest = colon ? colon + 1 : "";
	if (klen == 6 && !strncmp(arg, "replay", 6)) {
		p->kind = EXPLORE_REPLAY;
		if (parse_replay(rest, p, err, errsz)) {
			memset(p, 0, sizeof *p);
			return -1;
		}
		return 0;
	}
	bool pct = klen == 3 && !strncmp(arg, "pct", 3);
	if (!pct && !(klen == 6 && !strncmp(arg, "random", 6)))
		return fail(err, errsz, "unknown strategy '%.*s' (pct:SEED[:D[:K]], random:SEED or replay:SCHEDULE)",
			    (int)(klen > 20 ? 20 : klen), arg);
	/* SEED[:D[:K]] */
	const char *f[3] = { rest, NULL, NULL }, *e[3];
	int nf = 1;
	for (const char *q = rest;; q++) {
		if (*q == ':' || !*q) {
			e[nf - 1] = q;
			if (!*q)
				break;
			if (nf == 3)
				return fail(err, errsz, "%s: too many fields (%s)", pct ? "pct" : "random",
					    pct ? "pct:SEED[:D[:K]]" : "random:SEED");
			f[nf++] = q + 1;
		}
	}
	uint64_t depth = 2, steps = EXPLORE_PCT_K;
	if (!num(f[0], e[0], UINT64_MAX, &p->seed))
		return fail(err, errsz, "%s: the seed must be a decimal number", pct ? "pct" : "random");
	if (!pct && nf > 1)
		return fail(err, errsz, "random: one field only (random:SEED)");
	if (nf > 1 && (!num(f[1], e[1], EXPLORE_MAX_DEPTH, &depth) || depth == 0))
		return fail(err, errsz, "pct: D must be 1 to %u", EXPLORE_MAX_DEPTH);
	if (nf > 2 && (!num(f[2], e[2], 1000000000, &steps) || steps == 0))
		return fail(err, errsz, "pct: K must be 1 to 1000000000");
	p->kind = pct ? EXPLORE_PCT : EXPLORE_RANDOM;
	p->depth = (unsigned)depth;
	p->steps = steps;
	return 0;
}

void explore_plan_free(struct explore_plan *p)
{
	free(p->replay);
	memset(p, 0, sizeof *p);
}

/* splitmix64: small, fast, and the same sequence everywhere for a seed. */
static uint64_t next(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in 0..n-1 (n >= 1), without modulo bias worth caring about for n <= 2^32. */
static uint64_t below(uint64_t *x, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)next(x) * n) >> 64);
}

int explore_sched_init(struct explore_sched *s, const struct explore_plan *p, unsigned nvcpus, char *err,
		       size_t errsz)
{
	memset(s, 0, sizeof *s);
	if (nvcpus < 1 || nvcpus > EXPLORE_MAX_VCPUS)
		return fail(err, errsz, "explore: %u vCPUs (1 to %u)", nvcpus, EXPLORE_MAX_VCPUS);
	for (size_t i = 0; p->kind == EXPLORE_REPLAY && i < p->nreplay; i++)
		if (p->replay[i] >= nvcpus)
			return fail(err, errsz, "replay: point %zu names vCPU %u, but the run has %u", i + 1,
				    p->replay[i], nvcpus);
	s->plan = *p;
	s->nvcpus = nvcpus;
	s->rng = p->seed;
	if (p->kind == EXPLORE_PCT) {
		/* Priorities D .. D+n-1 in a random order (Fisher-Yates); the
		 * change points get 1 .. D-1, below all of them. */
		for (unsigned i = 0; i < nvcpus; i++)
			s->prio[i] = p->depth + i;
		for (unsigned i = nvcpus - 1; i > 0; i--) {
			unsigned j = (unsigned)below(&s->rng, i + 1);
			unsigned t = s->prio[i];
			s->prio[i] = s->prio[j];
			s->prio[j] = t;
		}
		for (unsigned j = 0; j + 1 < p->depth; j++)
			s->change_at[j] = 1 + below(&s->rng, p->steps);
	}
	return 0;
}

void explore_sched_free(struct explore_sched *s)
{
	free(s->taken);
	s->taken = NULL;
	s->ntaken = s->cap = 0;
}

static void record(struct explore_sched *s, unsigned c)
{
	if (s->ntaken == s->cap) {
		if (s->cap >= EXPLORE_MAX_STEPS)
			return;
		size_t cap = s->cap ? s->cap * 2 : 256;
		if (cap > EXPLORE_MAX_STEPS)
			cap = EXPLORE_MAX_STEPS;
		uint8_t *t = realloc(s->taken, cap);
		if (!t)
			return; /* the schedule is then incomplete: explore_format() stops there */
		s->taken = t;
		s->cap = cap;
	}
	s->taken[s->ntaken++] = (uint8_t)c;
}

unsigned explore_choose(struct explore_sched *s, unsigned cur, uint32_t eligible)
{
	uint32_t all = s->nvcpus >= 32 ? 0xffffffffu : (1u << s->nvcpus) - 1;
	if (cur >= s->nvcpus)
		cur = 0;
	eligible &= all;
	if (!eligible)
		eligible = 1u << cur;
	s->step++;
	unsigned c = cur;
	switch (s->plan.kind) {
	case EXPLORE_PCT: {
		for (unsigned j = 0; j + 1 < s->plan.depth; j++)
			if (s->change_at[j] == s->step)
				s->prio[cur] = j + 1;
		/* Priorities are distinct: the initial ones D.., a dropped one j+1 < D. */
		bool have = false;
		for (unsigned i = 0; i < s->nvcpus; i++)
			if ((eligible >> i & 1) && (!have || s->prio[i] > s->prio[c])) {
				c = i;
				have = true;
			}
		break;
	}
	case EXPLORE_RANDOM: {
		unsigned k = (unsigned)below(&s->rng, (uint64_t)__builtin_popcount(eligible));
		for (c = 0; !(eligible >> c & 1) || k--; c++)
			;
		break;
	}
	case EXPLORE_REPLAY: {
		size_t i = (size_t)(s->step - 1);
		unsigned want = i < s->plan.nreplay ? s->plan.replay[i] : cur;
		if (eligible >> want & 1) {
			c = want;
		} else {
			if (i < s->plan.nreplay)
				s->diverged++;
			c = eligible >> cur & 1 ? cur : (unsigned)__builtin_ctz(eligible);
		}
		break;
	}
	case EXPLORE_OFF:
		c = eligible >> cur & 1 ? cur : (unsigned)__builtin_ctz(eligible);
		break;
	}
	if (c != cur)
		s->switches++;
	record(s, c);
	return c;
}

int explore_format(const struct explore_sched *s, char *buf, size_t n)
{
	if (!n)
		return -1;
	size_t len = 0;
	buf[0] = 0;
	for (size_t i = 0; i < s->ntaken;) {
		size_t j = i;
		while (j < s->ntaken && s->taken[j] == s->taken[i])
			j++;
		char tok[32];
		int k = j - i > 1 ? snprintf(tok, sizeof tok, "%s%ux%zu", i ? "." : "", s->taken[i], j - i)
				  : snprintf(tok, sizeof tok, "%s%u", i ? "." : "", s->taken[i]);
		if (len + (size_t)k + 1 > n)
			return -1;
		memcpy(buf + len, tok, (size_t)k + 1);
		len += (size_t)k;
		i = j;
	}
	return 0;
}
