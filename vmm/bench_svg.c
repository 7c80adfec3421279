/* vmm/bench_svg.c — hand-written SVG plots of a bench run: latency histograms, fork latency against size. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "bench.h"

#define W 640
#define H 400
#define ML 70 /* margins: left, right, top, bottom */
#define MR 20
#define MT 40
#define MB 50
#define BINS 60
#define MIN_HIST_SAMPLES 16

static FILE *svg_open(struct outfile *w, const struct bench_state *b, const char *dir, const char *name)
{
	FILE *f = out_open(w, b->files, dir, name);
	if (!f) {
		fprintf(stderr, "vmm: bench: cannot write %s/%s: %s\n", dir, name, strerror(errno));
		return NULL;
	}
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		   "font-family=\"sans-serif\" font-size=\"11\">\n"
		   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
	return f;
}

static int svg_close(struct outfile *w, const char *dir)
{
	fprintf(w->f, "</svg>\n");
	int r = out_close(w);
	if (r)
		fprintf(stderr, "vmm: bench: writing a plot in %s: %s\n", dir, strerror(-r));
	return r ? -1 : 0;
}

static void axes(FILE *f, const char *title, const char *xl, const char *yl)
{
	fprintf(f, "<text x=\"%d\" y=\"22\" font-size=\"14\" text-anchor=\"middle\">%s</text>\n",
		W / 2, title);
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", ML, H - MB,
		W - MR, H - MB);
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", ML, MT, ML,
		H - MB);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", (ML + W - MR) / 2,
		H - 12, xl);
	fprintf(f, "<text transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
		(MT + H - MB) / 2, yl);
}

/* Histogram of one group: linear bins from min to p99 (the bulk), with the
 * samples above p99's bin range counted in a separate last bar. */
static int histogram(const struct bench_state *b, const char *dir, const struct bench_group *g)
{
	char name[96], title[160];
	snprintf(name, sizeof name, "hist-%s-n%u.svg", bench_event_name(g->event), g->arg);
	struct outfile w;
	FILE *f = svg_open(&w, b, dir, name);
	if (!f)
		return -1;
	/* Samples are the guest's numbers: any value, 0 .. UINT64_MAX.  The bin
	 * width is computed in floating point (hi - lo + 1 wraps at the extremes)
	 * and a bin index is clamped before it becomes an int. */
	uint64_t lo = g->min, hi = g->p99 > g->min ? g->p99 : (g->min < UINT64_MAX ? g->min + 1 : g->min);
	double width = ((double)(hi - lo) + 1.0) / BINS;
	uint64_t bins[BINS + 1] = { 0 }, top = 1;
	for (uint64_t i = 0; i < g->count; i++) {
		uint64_t t = g->ticks[i];
		double q = t > hi ? BINS : (double)(t - lo) / width;
		int k = q >= BINS ? BINS : (int)q;
		bins[k]++;
	}
	for (int k = 0; k <= BINS; k++)
		if (bins[k] > top)
			top = bins[k];
	/* The *_MT events' argument is a thread count, not pages. */
	bool mt = g->event == COWVMM_EV_COW_WRITE_MT || g->event == COWVMM_EV_FORK_MT;
	snprintf(title, sizeof title, "%s, %s=%u: %" PRIu64 " samples (p50 %" PRIu64 ", p99 %" PRIu64
		 " ticks)", bench_event_name(g->event), mt ? "threads elsewhere" : "n", g->arg, g->count,
		 g->p50, g->p99);
	axes(f, title, "TSC ticks (last bar: above p99)", "samples");
	double pw = (double)(W - ML - MR) / (BINS + 2), ph = H - MT - MB;
	for (int k = 0; k <= BINS; k++) {
		double h = ph * (double)bins[k] / (double)top;
		if (bins[k] && h < 2)
			h = 2; /* a few outliers must stay visible */
		double x = ML + pw * (k + (k == BINS));
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
			x, H - MB - h, pw * 0.9, h, k == BINS ? "#c44" : "#47a");
	}
	/* x labels at both ends and p50; y label at the top. */
	double xp50 = ML + pw * ((double)(g->p50 - lo) / width);
	fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e80\" "
		   "stroke-dasharray=\"4 3\"/>\n", xp50, MT, xp50, H - MB);
	fprintf(f, "<text x=\"%.1f\" y=\"%d\" fill=\"#e80\">p50</text>\n", xp50 + 3, MT + 10);
	fprintf(f, "<text x=\"%d\" y=\"%d\">%" PRIu64 "</text>\n", ML, H - MB + 14, lo);
	fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\">%" PRIu64 "</text>\n",
		ML + pw * BINS, H - MB + 14, hi);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%" PRIu64 "</text>\n", ML - 4, MT + 4,
		top);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n", ML - 4, H - MB);
	if (bins[BINS])
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#c44\">%" PRIu64
			   " above p99, max %" PRIu64 "</text>\n", W - MR, MT + 24, bins[BINS], g->max);
	return svg_close(&w, dir);
}

/* log10 position in [lo, hi] -> pixels.  A value below the axis (a guest's
 * sample of 0 ticks: log10(0) is -inf, printed "inf" into the SVG) sits on it. */
static double lx(double v, double lo, double hi)
{
	v = fmax(v, lo);
	return ML + (W - ML - MR) * (log10(v) - log10(lo)) / (log10(hi) - log10(lo));
}

static double ly(double v, double lo, double hi)
{
	v = fmax(v, lo);
	return H - MB - (H - MT - MB) * (log10(v) - log10(lo)) / (log10(hi) - log10(lo));
}

/* Fork latency (p50, min..max bar) against mapped pages, log-log; the peer's
 * fork p50 too when there is one. */
static int fork_plot(const struct bench_state *b, const char *dir)
{
	double xlo = 1e30, xhi = 1, ylo = 1e30, yhi = 1;
	for (size_t i = 0; i < b->ngroups; i++) {
		const struct bench_group *g = &b->groups[i];
		if (g->event != COWVMM_EV_FORK)
			continue;
		double x = g->arg ? g->arg : 1;
		xlo = fmin(xlo, x), xhi = fmax(xhi, x);
		ylo = fmin(ylo, (double)g->min), yhi = fmax(yhi, (double)g->max);
	}
	for (size_t i = 0; i < b->npeer; i++)
		if (!strcmp(b->peer[i].event, "fork") && b->peer[i].n) {
			xlo = fmin(xlo, b->peer[i].n), xhi = fmax(xhi, b->peer[i].n);
			ylo = fmin(ylo, (double)b->peer[i].p50), yhi = fmax(yhi, (double)b->peer[i].p50);
		}
	if (xlo > xhi)
		return 0; /* no fork samples */
	xlo = pow(10, floor(log10(xlo))), xhi = pow(10, ceil(log10(xhi) + 1e-9));
	ylo = pow(10, floor(log10(ylo > 0 ? ylo : 1))), yhi = pow(10, ceil(log10(yhi) + 1e-9));
	struct outfile w;
	FILE *f = svg_open(&w, b, dir, "fork.svg");
	if (!f)
		return -1;
	axes(f, "fork latency (parent view) against mapped pages", "mapped pages (log)",
	     "TSC ticks (log)");
	for (double v = xlo; v <= xhi * 1.001; v *= 10)
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n",
			lx(v, xlo, xhi), H - MB + 14, v);
	for (double v = ylo; v <= yhi * 1.001; v *= 10) {
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0e</text>\n", ML - 4,
			ly(v, ylo, yhi) + 4, v);
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", ML,
			ly(v, ylo, yhi), W - MR, ly(v, ylo, yhi));
	}
	fprintf(f, "<polyline fill=\"none\" stroke=\"#47a\" stroke-width=\"2\" points=\"");
	for (size_t i = 0; i < b->ngroups; i++)
		if (b->groups[i].event == COWVMM_EV_FORK)
			fprintf(f, "%.1f,%.1f ", lx(b->groups[i].arg ? b->groups[i].arg : 1, xlo, xhi),
				ly((double)b->groups[i].p50, ylo, yhi));
	fprintf(f, "\"/>\n");
	for (size_t i = 0; i < b->ngroups; i++) {
		const struct bench_group *g = &b->groups[i];
		if (g->event != COWVMM_EV_FORK)
			continue;
		double x = lx(g->arg ? g->arg : 1, xlo, xhi);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#47a\"/>\n", x,
			ly((double)g->min, ylo, yhi), x, ly((double)g->max, ylo, yhi));
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#47a\"/>\n", x,
			ly((double)g->p50, ylo, yhi));
	}
	bool peer = false;
	for (size_t i = 0; i < b->npeer; i++)
		if (!strcmp(b->peer[i].event, "fork") && b->peer[i].n && b->peer[i].p50) {
			peer = true;
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" fill=\"#c44\"/>\n",
				lx(b->peer[i].n, xlo, xhi) - 3.5, ly((double)b->peer[i].p50, ylo, yhi) - 3.5);
		}
	fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"3.5\" fill=\"#47a\"/><text x=\"%d\" y=\"%d\">"
		   "cowvmm p50 (bar: min..max)</text>\n", ML + 14, MT + 8, ML + 22, MT + 12);
	if (peer)
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"7\" height=\"7\" fill=\"#c44\"/><text x=\"%d\" "
			   "y=\"%d\">peer (Linux) p50</text>\n", ML + 10, MT + 20, ML + 22, MT + 28);
	return svg_close(&w, dir);
}

int bench_write_svg(const struct bench_state *b, const char *dir)
{
	int r = out_mkdir(b->files, dir, 0777);
	if (r && r != -EEXIST) {
		fprintf(stderr, "vmm: bench: cannot create %s: %s\n", dir, strerror(-r));
		return -1;
	}
	int rc = fork_plot(b, dir);
	for (size_t i = 0; i < b->ngroups; i++)
		if (b->groups[i].count >= MIN_HIST_SAMPLES && histogram(b, dir, &b->groups[i]))
			rc = -1;
	return rc;
}
