/* vmm/bench_report.c — bench statistics per event, the printed tables, JSON, and the comparison with a peer. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "vmm.h"

/* Targets of issue 6, p50 in ticks. */
#define TARGET_COW_WRITE 1000u
#define TARGET_REUSE_WRITE 250u
#define TARGET_FORK_PER_PAGE 20.0
#define TARGET_FORK_FIXED 10000.0

static int cmp_sample(const void *x, const void *y)
{
	const struct cowvmm_sample *a = x, *b = y;
	if (a->event != b->event)
		return a->event < b->event ? -1 : 1;
	if (a->arg != b->arg)
		return a->arg < b->arg ? -1 : 1;
	return a->ticks < b->ticks ? -1 : a->ticks > b->ticks;
}

/* Nearest rank, as tools/linux-peer: the smallest sample with p% at or below it. */
static uint64_t pct(const uint64_t *s, uint64_t n, unsigned p)
{
	uint64_t rank = (p * n + 99) / 100;
	return s[rank ? rank - 1 : 0];
}

/* Sort all samples and cut them into (event, arg) groups. */
static int make_groups(struct bench_state *b)
{
	/* No samples (a guest that never sent phase 2): qsort's pointer may not be NULL. */
	if (b->nsamples)
		qsort(b->samples, b->nsamples, sizeof *b->samples, cmp_sample);
	b->sorted = malloc((b->nsamples + 1) * sizeof *b->sorted);
	b->groups = malloc((b->nsamples + 1) * sizeof *b->groups);
	if (!b->sorted || !b->groups)
		return -1;
	for (size_t i = 0; i < b->nsamples; i++)
		b->sorted[i] = b->samples[i].ticks;
	for (size_t i = 0, j; i < b->nsamples; i = j) {
		const struct cowvmm_sample *s = &b->samples[i];
		long double sum = 0;
		for (j = i; j < b->nsamples && b->samples[j].event == s->event &&
			    b->samples[j].arg == s->arg; j++)
			sum += b->samples[j].ticks;
		struct bench_group *g = &b->groups[b->ngroups++];
		g->event = s->event;
		g->arg = s->arg;
		g->ticks = &b->sorted[i];
		g->count = j - i;
		g->min = g->ticks[0];
		g->max = g->ticks[g->count - 1];
		g->p50 = pct(g->ticks, g->count, 50);
		g->p90 = pct(g->ticks, g->count, 90);
		g->p99 = pct(g->ticks, g->count, 99);
		g->mean = (double)(sum / g->count);
	}
	return 0;
}

const struct bench_group *bench_group_find(const struct bench_state *b, uint32_t event, uint32_t arg)
{
	for (size_t i = 0; i < b->ngroups; i++)
		if (b->groups[i].event == event && b->groups[i].arg == arg)
			return &b->groups[i];
	return NULL;
}

const struct bench_peer *bench_peer_find(const struct bench_state *b, const char *event, uint32_t n)
{
	for (size_t i = 0; i < b->npeer; i++)
		if (!strcmp(b->peer[i].event, event) && b->peer[i].n == n)
			return &b->peer[i];
	return NULL;
}

/* Lines "peer event=E n=N count=C min=.. p50=.. p90=.. p99=.. max=.. mean=.."
 * (tools/linux-peer); anything else in the file is ignored. */
int bench_load_peer(struct bench_state *b, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "vmm: bench: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	char line[512];
	while (fgets(line, sizeof line, f)) {
		struct bench_peer p;
		unsigned n;
		if (sscanf(line, "peer event=%31s n=%u count=%" SCNu64 " min=%" SCNu64 " p50=%" SCNu64
			   " p90=%" SCNu64 " p99=%" SCNu64 " max=%" SCNu64 " mean=%" SCNu64,
			   p.event, &n, &p.count, &p.min, &p.p50, &p.p90, &p.p99, &p.max, &p.mean) != 9)
			continue;
		p.n = n;
		void *q = realloc(b->peer, (b->npeer + 1) * sizeof *b->peer);
		if (!q)
			break;
		b->peer = q;
		b->peer[b->npeer++] = p;
	}
	fclose(f);
	return 0;
}

/* "12,345" into buf. */
static const char *commas(uint64_t v, char *buf)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v), o = 0;
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = 0;
	return buf;
}

static void print_events(const struct bench_state *b, FILE *out)
{
	char c[7][32];
	fprintf(out, "\n%-15s %6s %7s %10s %10s %10s %10s %11s %11s %10s\n", "event", "n", "count",
		"min", "p50", "p90", "p99", "max", "mean", "p50 ns");
	for (size_t i = 0; i < b->ngroups; i++) {
		const struct bench_group *g = &b->groups[i];
		double ns = bench_ns(b, g->p50);
		char nsb[32] = "-";
		if (ns >= 0)
			snprintf(nsb, sizeof nsb, "%.0f", ns);
		fprintf(out, "%-15s %6u %7s %10s %10s %10s %10s %11s %11s %10s\n",
			bench_event_name(g->event), g->arg, commas(g->count, c[0]), commas(g->min, c[1]),
			commas(g->p50, c[2]), commas(g->p90, c[3]), commas(g->p99, c[4]),
			commas(g->max, c[5]), commas((uint64_t)(g->mean + 0.5), c[6]), nsb);
	}
}

/* Exits inside a loop: all exits but the closing HC_BENCH. */
static int64_t inside(const struct bench_loop *l)
{
	return l->kd[KS_EXITS] - 1;
}

unsigned bench_loop_sum(const struct bench_state *b, uint32_t event, uint32_t arg, struct bench_loopsum *s)
{
	memset(s, 0, sizeof *s);
	s->have_g = true;
	for (size_t i = 0; i < b->nloops; i++) {
		const struct bench_loop *l = &b->loops[i];
		if (l->event != event || l->arg != arg)
			continue;
		s->loops++;
		s->exits += inside(l);
		for (unsigned c = 0; c < b->ncpus; c++)
			s->exits_cpu[c] += l->exits_cpu[c];
		if (!l->have_g) {
			s->have_g = false;
			continue;
		}
		const uint64_t *d = (const uint64_t *)&l->gd;
		uint64_t *t = (uint64_t *)&s->gd;
		for (size_t k = 0; k < sizeof l->gd / sizeof(uint64_t); k++)
			t[k] += d[k];
	}
	s->have_g = s->have_g && s->loops;
	return s->loops;
}

/* "3 0 1": a loop's exits inside per vCPU, into buf. */
static const char *per_cpu(const struct bench_state *b, const int64_t *x, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = 0;
	for (unsigned c = 0; c < b->ncpus && o < size; c++)
		o += (size_t)snprintf(buf + o, size - o, "%s%" PRId64, c ? " " : "", x[c]);
	return buf;
}

static void print_loops(const struct bench_state *b, FILE *out)
{
	fprintf(out, "\ntimed loops: %zu (phase 0 -> phase 1); %u vCPU%s%s\n", b->nloops, b->ncpus,
		b->ncpus == 1 ? "" : "s", b->ncpus > 1 ? ", KVM statistics summed over all of them" : "");
	if (!b->have_stats) {
		fprintf(out, "  VM exits inside loops: NOT MEASURED (%s)\n", b->stats_why);
	} else {
		int64_t tot = 0, user = 0, host = 0, npf = 0, bad = 0;
		for (size_t i = 0; i < b->nloops; i++) {
			const struct bench_loop *l = &b->loops[i];
			tot += inside(l);
			user += l->kd[KS_IO] - 1 + l->kd[KS_MMIO];
			host += l->kd[KS_IRQ] + l->kd[KS_SIGNAL] + l->kd[KS_REQUEST_IRQ];
			npf += l->kd[KS_PF_TAKEN];
			bad += l->kd[KS_EXITS] < 1 || l->kd[KS_IO] < 1;
		}
		fprintf(out, "  KVM stats: each loop's exits = closing HC_BENCH (1 I/O exit) + exits inside\n");
		fprintf(out, "  VM exits inside loops: %" PRId64 " in all; to the VMM (I/O, MMIO): %" PRId64
			"; host interrupts/signals: %" PRId64 "; KVM MMU faults (stage 2 / shadow): %" PRId64
			"%s\n", tot, user, host, npf,
			bad ? "; INCONSISTENT (a loop saw no closing exit)" : "");
	}
	fprintf(out, "%5s %-15s %6s %7s %6s %6s %6s %6s %7s %7s %7s %7s %6s %6s%s\n", "loop", "event", "n",
		"inside", "io", "irq", "mmu", "other", "forks", "copies", "reuses", "zfills", "ipis",
		"shootd", b->ncpus > 1 ? "  inside per vCPU" : "");
	for (size_t i = 0; i < b->nloops; i++) {
		const struct bench_loop *l = &b->loops[i];
		char in[24] = "-", io[24] = "-", irq[24] = "-", pf[24] = "-", oth[24] = "-";
		char pc[COWVMM_MAX_CPUS * 12];
		if (b->have_stats) {
			/* "other": exits of a kind none of the followed counters names. */
			int64_t known = l->kd[KS_IO] - 1 + l->kd[KS_MMIO] + l->kd[KS_HALT] +
					l->kd[KS_IRQ] + l->kd[KS_SIGNAL] + l->kd[KS_IRQ_WINDOW] +
					l->kd[KS_REQUEST_IRQ] + l->kd[KS_NMI_WINDOW];
			snprintf(in, sizeof in, "%" PRId64, inside(l));
			snprintf(io, sizeof io, "%" PRId64, l->kd[KS_IO] - 1);
			snprintf(irq, sizeof irq, "%" PRId64, l->kd[KS_IRQ]);
			snprintf(pf, sizeof pf, "%" PRId64, l->kd[KS_PF_TAKEN] + l->kd[KS_PF_GUEST]);
			snprintf(oth, sizeof oth, "%" PRId64, inside(l) - known);
		}
		fprintf(out, "%5zu %-15s %6u %7s %6s %6s %6s %6s", i, bench_event_name(l->event), l->arg,
			in, io, irq, pf, oth);
		if (l->have_g)
			fprintf(out, " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %6" PRIu64 " %6" PRIu64,
				l->gd.forks, l->gd.cow_copies, l->gd.cow_reuses, l->gd.zero_fills,
				l->gd.ipis_sent, l->gd.tlb_shootdowns);
		else
			fprintf(out, " %7s %7s %7s %7s %6s %6s", "-", "-", "-", "-", "-", "-");
		if (b->ncpus > 1)
			fprintf(out, "  %s", b->have_stats ? per_cpu(b, l->exits_cpu, pc, sizeof pc) : "-");
		fprintf(out, "%s\n", l->label_mismatch ? "  (phase 1 label differs)" : "");
	}
}

/* Several CPUs: per (event, n), what the guest counted per event (IPIs it
 * sent, shootdown rounds) and the VM exits per loop, each vCPU's apart.
 * Events are the group's samples; the loops of that label are summed. */
static void print_smp(const struct bench_state *b, FILE *out)
{
	bool any = b->ncpus > 1;
	for (size_t i = 0; i < b->nloops && !any; i++)
		any = b->loops[i].have_g && b->loops[i].gd.ipis_sent;
	if (!any)
		return;
	fprintf(out, "\nper event, %u vCPU%s (IPIs and shootdowns: the guest's counters over the loop / its samples;"
		" exits: inside the loop)\n", b->ncpus, b->ncpus == 1 ? "" : "s");
	fprintf(out, "%-15s %6s %7s %11s %11s %11s %11s%s\n", "event", "n", "events", "IPIs/event",
		"shootd/ev", "races/ev", "exits/loop", b->ncpus > 1 ? "  exits/loop per vCPU" : "");
	for (size_t i = 0; i < b->ngroups; i++) {
		const struct bench_group *g = &b->groups[i];
		struct bench_loopsum s;
		if (!bench_loop_sum(b, g->event, g->arg, &s))
			continue;
		char ipi[24] = "-", sd[24] = "-", race[24] = "-", ex[24] = "-", pc[COWVMM_MAX_CPUS * 24] = "-";
		if (s.have_g) {
			snprintf(ipi, sizeof ipi, "%.2f", (double)s.gd.ipis_sent / (double)g->count);
			snprintf(sd, sizeof sd, "%.2f", (double)s.gd.tlb_shootdowns / (double)g->count);
			snprintf(race, sizeof race, "%.2f", (double)s.gd.cow_races / (double)g->count);
		}
		if (b->have_stats) {
			size_t o = 0;
			snprintf(ex, sizeof ex, "%.1f", (double)s.exits / s.loops);
			for (unsigned c = 0; c < b->ncpus && o < sizeof pc; c++)
				o += (size_t)snprintf(pc + o, sizeof pc - o, "%s%.1f", c ? " " : "",
						      (double)s.exits_cpu[c] / s.loops);
		}
		fprintf(out, "%-15s %6u %7" PRIu64 " %11s %11s %11s %11s%s%s\n", bench_event_name(g->event),
			g->arg, g->count, ipi, sd, race, ex, b->ncpus > 1 ? "  " : "", b->ncpus > 1 ? pc : "");
	}
}

/* Which of our events compares with which peer event. */
static const struct { uint32_t ev; const char *peer; } pairs[] = {
	{ COWVMM_EV_COW_WRITE, "cow_write" },
	{ COWVMM_EV_REUSE_WRITE, "reuse_write" },
	{ COWVMM_EV_PLAIN_WRITE, "plain_write" },
	{ COWVMM_EV_FORK, "fork" },
	{ COWVMM_EV_FORK_ROUNDTRIP, "fork_roundtrip" },
	{ COWVMM_EV_COW_WRITE_MT, "cow_write_mt" },
	{ COWVMM_EV_FORK_MT, "fork_mt" },
};

static void print_peer(const struct bench_state *b, FILE *out)
{
	char c[4][32];
	bool mt = false;
	fprintf(out, "\nside by side (ticks; ratio = cowvmm / peer, below 1 means cowvmm is faster)\n");
	fprintf(out, "%-15s %6s %11s %11s %7s %11s %11s %7s\n", "event", "n", "cowvmm p50",
		"peer p50", "ratio", "cowvmm p99", "peer p99", "ratio");
	for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++)
		for (size_t i = 0; i < b->npeer; i++) {
			const struct bench_peer *p = &b->peer[i];
			if (strcmp(p->event, pairs[k].peer))
				continue;
			const struct bench_group *g = bench_group_find(b, pairs[k].ev, p->n);
			if (!g) /* plain writes are timed once, not per size */
				g = bench_group_find(b, pairs[k].ev, 0);
			if (!g)
				continue;
			fprintf(out, "%-15s %6u %11s %11s %7.3f %11s %11s %7.3f\n", p->event, p->n,
				commas(g->p50, c[0]), commas(p->p50, c[1]),
				p->p50 ? (double)g->p50 / p->p50 : 0.0, commas(g->p99, c[2]),
				commas(p->p99, c[3]), p->p99 ? (double)g->p99 / p->p99 : 0.0);
			mt = mt || g->event == COWVMM_EV_COW_WRITE_MT || g->event == COWVMM_EV_FORK_MT;
		}
	if (mt)
		fprintf(out, "  *_mt (n = threads beside the timed one): our events wait for the other vCPUs'"
			" acknowledgements, so\n  their times mean something only where the vCPUs run at once"
			" (not with one host CPU,\n  e.g. QEMU -icount); the peer's threads need no IPI unless Linux"
			" had the CPUs (peer.txt: cpus=N)\n");
}

/* Least-squares line through fork p50 against mapped pages. */
static bool fork_fit(const struct bench_state *b, double *slope, double *fixed)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	int n = 0;
	for (size_t i = 0; i < b->ngroups; i++) {
		const struct bench_group *g = &b->groups[i];
		if (g->event != COWVMM_EV_FORK)
			continue;
		double x = g->arg, y = (double)g->p50;
		sx += x, sy += y, sxx += x * x, sxy += x * y, n++;
	}
	double den = n * sxx - sx * sx;
	if (n < 2 || den == 0)
		return false;
	*slope = (n * sxy - sx * sy) / den;
	*fixed = (sy - *slope * sx) / n;
	return true;
}

/* The group of an event with the largest n (most samples; COW costs should not depend on n). */
static const struct bench_group *best(const struct bench_state *b, uint32_t ev)
{
	const struct bench_group *r = NULL;
	for (size_t i = 0; i < b->ngroups; i++)
		if (b->groups[i].event == ev && (!r || b->groups[i].arg > r->arg))
			r = &b->groups[i];
	return r;
}

static void print_targets(const struct bench_state *b, FILE *out)
{
	const struct bench_group *cw = best(b, COWVMM_EV_COW_WRITE), *rw = best(b, COWVMM_EV_REUSE_WRITE);
	double slope, fixed;
	fprintf(out, "\ntargets (p50 ticks):\n");
	if (cw)
		fprintf(out, "  COW fault (user-visible write, n=%u) %" PRIu64 " <= %u: %s\n", cw->arg,
			cw->p50, TARGET_COW_WRITE, cw->p50 <= TARGET_COW_WRITE ? "met" : "MISSED");
	if (rw)
		fprintf(out, "  reuse fault (user-visible write, n=%u) %" PRIu64 " <= %u: %s\n", rw->arg,
			rw->p50, TARGET_REUSE_WRITE, rw->p50 <= TARGET_REUSE_WRITE ? "met" : "MISSED");
	if (fork_fit(b, &slope, &fixed))
		fprintf(out, "  fork: %.1f per page (<= %.0f: %s) + %.0f fixed (<= %.0f: %s)\n", slope,
			TARGET_FORK_PER_PAGE, slope <= TARGET_FORK_PER_PAGE ? "met" : "MISSED", fixed,
			TARGET_FORK_FIXED, fixed <= TARGET_FORK_FIXED ? "met" : "MISSED");
}

void bench_print_table(const struct bench_state *b, FILE *out)
{
	fprintf(out, "\n== cowvmm bench: %zu samples in %u batch(es); TSC %" PRIu64 " kHz%s ==\n",
		b->nsamples, b->submits, b->tsc_khz, b->tsc_khz ? "" : " (unknown: no ns)");
	print_events(b, out);
	print_loops(b, out);
	print_smp(b, out);
	if (b->npeer)
		print_peer(b, out);
	print_targets(b, out);
}

/* JSON: one record per line, so line tools can pick it apart too. */
int bench_write_json(const struct bench_state *b, const char *path)
{
	struct outfile w;
	FILE *f = out_open(&w, b->files, path, NULL);
	if (!f) {
		fprintf(stderr, "vmm: bench: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	double slope, fixed;
	fprintf(f, "{\n\"tsc_khz\": %" PRIu64 ",\n\"samples\": %zu,\n\"kvm_stats\": %s,\n\"cpus\": %u,\n",
		b->tsc_khz, b->nsamples, b->have_stats ? "true" : "false", b->ncpus);
	if (fork_fit(b, &slope, &fixed))
		fprintf(f, "\"fork_fit\": {\"per_page\": %.2f, \"fixed\": %.0f},\n", slope, fixed);
	fprintf(f, "\"events\": [\n");
	for (size_t i = 0; i < b->ngroups; i++) {
		const struct bench_group *g = &b->groups[i];
		struct bench_loopsum s;
		fprintf(f, "{\"event\": \"%s\", \"n\": %u, \"count\": %" PRIu64 ", \"min\": %" PRIu64
			", \"p50\": %" PRIu64 ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"max\": %" PRIu64
			", \"mean\": %.1f, \"p50_ns\": %.1f",
			bench_event_name(g->event), g->arg, g->count, g->min, g->p50, g->p90, g->p99, g->max,
			g->mean, bench_ns(b, g->p50));
		if (bench_loop_sum(b, g->event, g->arg, &s)) {
			fprintf(f, ", \"loops\": %u", s.loops);
			if (s.have_g)
				fprintf(f, ", \"ipis_per_event\": %.3f, \"shootdowns_per_event\": %.3f",
					(double)s.gd.ipis_sent / (double)g->count,
					(double)s.gd.tlb_shootdowns / (double)g->count);
			if (b->have_stats)
				fprintf(f, ", \"exits_per_loop\": %.1f", (double)s.exits / s.loops);
		}
		fprintf(f, "}%s\n", i + 1 < b->ngroups ? "," : "");
	}
	fprintf(f, "],\n\"loops\": [\n");
	for (size_t i = 0; i < b->nloops; i++) {
		const struct bench_loop *l = &b->loops[i];
		fprintf(f, "{\"loop\": %zu, \"event\": \"%s\", \"n\": %u", i, bench_event_name(l->event),
			l->arg);
		if (b->have_stats) {
			fprintf(f, ", \"exits_inside\": %" PRId64, inside(l));
			for (int k = 0; k < KS_COUNT; k++)
				if (b->ks[k].have)
					fprintf(f, ", \"%s\": %" PRId64, b->ks[k].name, l->kd[k]);
			fprintf(f, ", \"exits_inside_cpu\": [");
			for (unsigned c = 0; c < b->ncpus; c++)
				fprintf(f, "%s%" PRId64, c ? ", " : "", l->exits_cpu[c]);
			fprintf(f, "]");
		}
		fprintf(f, ", \"begin_cpu\": %u, \"end_cpu\": %u", l->begin_cpu, l->end_cpu);
		if (l->have_g)
			fprintf(f, ", \"forks\": %" PRIu64 ", \"cow_copies\": %" PRIu64
				", \"cow_reuses\": %" PRIu64 ", \"zero_fills\": %" PRIu64
				", \"ipis_sent\": %" PRIu64 ", \"tlb_shootdowns\": %" PRIu64
				", \"cow_races\": %" PRIu64 ", \"timer_ticks\": %" PRIu64
				", \"preemptions\": %" PRIu64,
				l->gd.forks, l->gd.cow_copies, l->gd.cow_reuses, l->gd.zero_fills,
				l->gd.ipis_sent, l->gd.tlb_shootdowns, l->gd.cow_races, l->gd.timer_ticks,
				l->gd.preemptions);
		fprintf(f, "}%s\n", i + 1 < b->nloops ? "," : "");
	}
	fprintf(f, "],\n\"peer\": [\n");
	for (size_t i = 0; i < b->npeer; i++) {
		const struct bench_peer *p = &b->peer[i];
		fprintf(f, "{\"event\": \"%s\", \"n\": %u, \"count\": %" PRIu64 ", \"min\": %" PRIu64
			", \"p50\": %" PRIu64 ", \"p90\": %" PRIu64 ", \"p99\": %" PRIu64 ", \"max\": %" PRIu64
			", \"mean\": %" PRIu64 "}%s\n", p->event, p->n, p->count, p->min, p->p50, p->p90,
			p->p99, p->max, p->mean, i + 1 < b->npeer ? "," : "");
	}
	fprintf(f, "]\n}\n");
	int r = out_close(&w);
	if (r) {
		fprintf(stderr, "vmm: bench: writing %s: %s\n", path, strerror(-r));
		return -1;
	}
	return 0;
}

int bench_report(struct bench_state *b, FILE *out)
{
	if (!b->o.enabled)
		return 0;
	int rc = 0;
	if (b->open)
		fprintf(out, "vmm: bench: the guest left a timed loop open (%s/%u)\n",
			bench_event_name(b->open_event), b->open_arg);
	if (make_groups(b) != 0) {
		fprintf(stderr, "vmm: bench: out of memory\n");
		return VMM_EXIT_GUEST_FAIL;
	}
	if (b->nsamples == 0) {
		fprintf(out, "vmm: bench: no samples received (the guest never sent HC_BENCH phase 2)\n");
		rc = VMM_EXIT_GUEST_FAIL;
	} else {
		bench_print_table(b, out);
	}
	if (b->o.json_path && bench_write_json(b, b->o.json_path) != 0)
		rc = VMM_EXIT_USAGE;
	if (b->o.svg_dir && b->nsamples && bench_write_svg(b, b->o.svg_dir) != 0)
		rc = VMM_EXIT_USAGE;
	fflush(out);
	return rc;
}

void bench_free(struct bench_state *b)
{
	free(b->loops);
	free(b->samples);
	free(b->groups);
	free(b->sorted);
	free(b->peer);
	b->loops = NULL;
	b->samples = NULL;
	b->groups = NULL;
	b->sorted = NULL;
	b->peer = NULL;
	b->nloops = b->caploops = b->nsamples = b->capsamples = b->ngroups = b->npeer = 0;
}
