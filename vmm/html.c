/* vmm/html.c — the --html module: records every checkpoint in the window (html_rec.c) and writes the page at the end of the run. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "inspect.h"
#include "outfile.h"
#include "vmm.h"

struct html_state {
	const char *path;        /* NULL: no page */
	uint64_t from, to;       /* --html-window */
	bool window_set;
	struct html_rec *rec;
	bool broken;             /* out of memory once: the page says nothing wrong, it is not written */
};

static const struct vmm_module html_module;

static struct html_state *st(const struct vm *vm)
{
	return vm_state(vm, &html_module);
}

void html_at_checkpoint(struct vm *vm, unsigned vcpu, const struct cowvmm_hc_inspect *cp, const struct audit *a)
{
	struct html_state *s = st(vm);
	if (!s->path || s->broken)
		return;
	if (!s->rec && !(s->rec = html_rec_new(s->from, s->to, HTML_CAP_BYTES))) {
		s->broken = true;
		return;
	}
	size_t nv;
	uint64_t total;
	const struct audit_violation *v = audit_violations(a, &nv, &total);
	if (html_record(s->rec, audit_books(a), audit_seq(a), vcpu, cp, v, nv, total) < 0)
		s->broken = true;
}

/* ---- options ------------------------------------------------------------------ */

enum { O_HTML, O_WINDOW };

static const struct vmm_option html_options[] = {
	{ "html", true, O_HTML },
	{ "html-window", true, O_WINDOW },
	{ NULL, false, 0 },
};

/* A checkpoint number 1 .. 10^12: true and *v, or false. */
static bool parse_seq(const char *s, const char *end, uint64_t *v)
{
	if (s == end || end - s > 13)
		return false;
	uint64_t x = 0;
	for (const char *p = s; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (x < 1 || x > 1000000000000ull)
		return false;
	*v = x;
	return true;
}

static int html_option(struct vm *vm, int id, const char *arg)
{
	struct html_state *s = st(vm);
	if (id == O_WINDOW) {
		const char *colon = strchr(arg, ':');
		uint64_t from, to = UINT64_MAX;
		if (!colon || !parse_seq(arg, colon, &from) ||
		    (colon[1] && !parse_seq(colon + 1, colon + strlen(colon), &to)) || to < from) {
			fprintf(stderr, "vmm: invalid --html-window '%s' (FROM:TO or FROM:, checkpoint numbers from 1, "
					"FROM <= TO)\nTry 'vmm --help'.\n", arg);
			return VMM_EXIT_USAGE;
		}
		s->from = from;
		s->to = to;
		s->window_set = true;
		return 0;
	}
	s->path = arg;
	inspect_require(vm);
	if (out_allow(&vm->files, arg, OUT_FILE)) {
		fprintf(stderr, "vmm: --html %s: more than %d output files and directories\nTry 'vmm --help'.\n", arg,
			OUT_MAX);
		return VMM_EXIT_USAGE;
	}
	return 0;
}

static int html_start(struct vm *vm)
{
	struct html_state *s = st(vm);
	if (s->window_set && !s->path) {
		fprintf(stderr, "vmm: --html-window needs --html FILE\nTry 'vmm --help'.\n");
		return VMM_EXIT_USAGE;
	}
	if (!s->window_set) {
		s->from = 1;
		s->to = HTML_STEPS_DEFAULT;
	}
	return VMM_CONTINUE;
}

static void html_usage(FILE *f)
{
	fprintf(f,
		"      --html FILE       the run as one self-contained web page: every\n"
		"                        checkpoint in the window, with each process's page\n"
		"                        tables, the frames they map and their refcounts,\n"
		"                        what changed, the audit's verdict; arrow keys step,\n"
		"                        FILE#step=N opens at checkpoint N\n"
		"      --html-window FROM:TO  the checkpoints recorded (numbers as in the\n"
		"                        report; 'FROM:' = to the end; default 1:%d; at most\n"
		"                        %u MiB of step data, later checkpoints are counted)\n",
		HTML_STEPS_DEFAULT, HTML_CAP_BYTES >> 20);
}

static int html_finish(struct vm *vm, int status)
{
	struct html_state *s = st(vm);
	if (!s->path || status == VMM_EXIT_NO_KVM)
		return status;
	if (s->broken) {
		fprintf(stderr, "vmm: --html %s: out of memory while recording; no page written\n", s->path);
		return status == VMM_EXIT_OK ? VMM_EXIT_USAGE : status;
	}
	if (!s->rec)
		s->rec = html_rec_new(s->from, s->to, HTML_CAP_BYTES); /* no checkpoint: an empty page says so */
	char title[300];
	const char *k = vm->kernel_path ? strrchr(vm->kernel_path, '/') : NULL;
	snprintf(title, sizeof title, "cowvmm: %s, %u CPU%s, %" PRIu64 " MiB", k ? k + 1 : vm->kernel_path ? vm->kernel_path : "?",
		 vm->nvcpus, vm->nvcpus == 1 ? "" : "s", vm->ram_size >> 20);
	struct outfile w;
	FILE *f = s->rec ? out_open(&w, &vm->files, s->path, NULL) : NULL;
	int r = !s->rec ? -ENOMEM : !f ? -errno : html_write(f, s->rec, title, vm->cmdline);
	if (f) {
		int rc = out_close(&w);
		r = r ? r : rc;
	}
	if (r) {
		fprintf(stderr, "vmm: cannot write --html %s: %s\n", s->path, strerror(-r));
		return status == VMM_EXIT_OK ? VMM_EXIT_USAGE : status;
	}
	uint64_t kept, dropped, failed;
	html_rec_counts(s->rec, &kept, &dropped, &failed);
	if (!vm->quiet || dropped)
		fprintf(stderr, "vmm: html: %" PRIu64 " checkpoint(s) in %s%s%s\n", kept, s->path,
			failed ? " (failed ones marked)" : "",
			dropped ? " -- later ones not recorded: the page's size cap was reached" : "");
	return status;
}

static void html_teardown(struct vm *vm)
{
	struct html_state *s = st(vm);
	html_rec_free(s->rec);
	s->rec = NULL;
}

static const struct vmm_module html_module = {
	.name = "html",
	.order = 26,
	.state_size = sizeof(struct html_state),
	.options = html_options,
	.usage = html_usage,
	.option = html_option,
	.start = html_start,
	.finish = html_finish,
	.teardown = html_teardown,
};
VMM_MODULE(html_module);
