/* vmm/html.h — --html: the whole run, checkpoint by checkpoint, as one self-contained HTML page you can step through. */
#ifndef COWVMM_HTML_H
#define COWVMM_HTML_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit.h"
#include "books.h"

/*
 * The recording (html_rec.c, pure; the module is html.c): at each checkpoint inside the window,
 * one step -- the checkpoint (kind, vCPU, pids, address, frames), the
 * audit's verdict there, and every live process with its page-table pages
 * and the frames they map (runs of pages collapsed, refcounts and pins from
 * the guest's books) -- appended as compact JSON.  Steps past the size cap
 * are counted, not kept: a 60,000-checkpoint run cannot make a huge page.
 *
 * The page (html_write(), pure): vmm/html_page.html, a template with the
 * CSS and the JavaScript that draws each step as inline SVG in the browser,
 * around the recording.  Drawing in the page, not with Graphviz per step:
 * one small copy of the data instead of one SVG per step (a --dot picture is
 * 10-40 KB, so 100 steps would be megabytes), no dot process per
 * checkpoint, and the page can diff two steps and follow a frame through
 * the run, which a picture per step cannot.
 */
#define HTML_STEPS_DEFAULT 2000                 /* --html-window's default: the first 2000 checkpoints */
#define HTML_CAP_BYTES (16u << 20)              /* step data kept at most */
#define HTML_MAX_TABLES 64                      /* page-table pages per address space and step */
#define HTML_MAX_RUNS 256                       /* frame runs per address space and step */

struct html_rec;

/* A recording of checkpoints from..to (numbers as the audit counts them,
 * 1 = the first), at most `cap` bytes of step data: NULL when out of memory. */
struct html_rec *html_rec_new(uint64_t from, uint64_t to, size_t cap);
void html_rec_free(struct html_rec *r);

/* Record checkpoint `seq` (taken on `vcpu`) with the violations the audit
 * found there (v[0..nv-1] of `total`): 1 recorded, 0 outside the window or
 * over the cap (counted), -ENOMEM. */
int html_record(struct html_rec *r, const struct books *b, uint64_t seq, unsigned vcpu,
		const struct cowvmm_hc_inspect *cp, const struct audit_violation *v, size_t nv, uint64_t total);

/* What was recorded: steps kept, checkpoints seen in the window but dropped
 * for the cap, and whether any step was marked failed. */
void html_rec_counts(const struct html_rec *r, uint64_t *kept, uint64_t *dropped, uint64_t *failed);

/* The page: `title` and `cmdline` shown at the top (escaped).  0 or -EIO. */
int html_write(FILE *f, const struct html_rec *r, const char *title, const char *cmdline);

struct vm;
/* The module: record checkpoint `cp` (taken on `vcpu`), audited by `a`. */
void html_at_checkpoint(struct vm *vm, unsigned vcpu, const struct cowvmm_hc_inspect *cp, const struct audit *a);

/* JSON string for a page: quotes, backslashes, control characters and
 * < > & escaped (so "</script>" in a process name cannot end the data). */
void html_json_str(FILE *f, const char *s);

/* The template, split at its data line (html_page.c, generated from
 * vmm/html_page.html at build time). */
extern const char html_page_head[], html_page_tail[];

#endif /* COWVMM_HTML_H */
