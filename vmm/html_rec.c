/* vmm/html_rec.c — --html's recording: each checkpoint's kind, verdict, processes, page-table pages and frame runs, as compact JSON. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cowvmm/names.h"
#include "html.h"
#include "ptwalk.h"

struct html_rec {
	uint64_t from, to;      /* window, checkpoint numbers inclusive */
	size_t cap;             /* bytes of step data at most */
	char *buf;              /* the steps so far: "{...},{...}" */
	size_t len, size;
	bool full;              /* a step did not fit: this and every later one dropped */
	uint64_t kept, dropped, failed;
};

struct html_rec *html_rec_new(uint64_t from, uint64_t to, size_t cap)
{
	struct html_rec *r = calloc(1, sizeof *r);
	if (r)
		*r = (struct html_rec){ .from = from, .to = to, .cap = cap };
	return r;
}

void html_rec_free(struct html_rec *r)
{
	if (r)
		free(r->buf);
	free(r);
}

void html_rec_counts(const struct html_rec *r, uint64_t *kept, uint64_t *dropped, uint64_t *failed)
{
	*kept = r->kept;
	*dropped = r->dropped;
	*failed = r->failed;
}

void html_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f || *p == '<' || *p == '>' || *p == '&')
			fprintf(f, "\\u%04x", *p); /* bytes above ASCII too: the page stays ASCII */
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* ---- one address space ---------------------------------------------------------- */

/* Flags of a run, as the page's JavaScript reads them. */
enum { RF_RW = 1, RF_COW = 2, RF_ZERO = 4, RF_NX = 8, RF_HUGE = 16, RF_USER = 32 };

struct run {
	bool open;
	uint64_t table, va, frame, n;
	unsigned idx0, flags;
	uint32_t rc, pins;
};

struct asctx {
	FILE *f;
	const struct books *b;
	uint64_t parent[5];     /* last table entered at each level */
	unsigned tables, runs;
	uint64_t hidden_tables, hidden_pages;
	bool first_table;
	FILE *runs_f;           /* the runs, written after the tables */
	bool first_run;
	struct run r;
};

static void flush_run(struct asctx *c)
{
	struct run *r = &c->r;
	if (!r->open)
		return;
	r->open = false;
	if (c->runs >= HTML_MAX_RUNS) {
		c->hidden_pages += r->n;
		return;
	}
	c->runs++;
	/* [table page, first index, first VA page, first frame, pages, flags, refcount, pins] */
	fprintf(c->runs_f, "%s[%" PRIu64 ",%u,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%u,%u,%u]", c->first_run ? "" : ",",
		r->table, r->idx0, r->va, r->frame, r->n, r->flags, r->rc, r->pins);
	c->first_run = false;
}

static int as_table(void *ctx, uint64_t gpa, int level, uint64_t va)
{
	struct asctx *c = ctx;
	flush_run(c);
	if (c->tables >= HTML_MAX_TABLES) {
		c->hidden_tables++;
		return PTW_SKIP; /* hostile or just huge: the page stays small */
	}
	c->tables++;
	c->parent[level] = gpa / COWVMM_PAGE_SIZE;
	/* [page, level, parent page (0 for the root), index in the parent] */
	fprintf(c->f, "%s[%" PRIu64 ",%d,%" PRIu64 ",%u]", c->first_table ? "" : ",", gpa / COWVMM_PAGE_SIZE, level,
		level < 4 ? c->parent[level + 1] : 0, level < 4 ? ptw_index(va, level + 1) : 0);
	c->first_table = false;
	return 0;
}

static int as_leaf(void *ctx, const struct ptw_leaf *l)
{
	struct asctx *c = ctx;
	uint64_t frame = l->pa / COWVMM_PAGE_SIZE;
	uint32_t rc = 0, pins = 0;
	books_frame_counts(c->b, frame, &rc, &pins);
	unsigned flags = (l->eff & PTW_EFF_W ? RF_RW : 0) | (l->cow ? RF_COW : 0) | (l->zero ? RF_ZERO : 0) |
			 (l->eff & PTW_EFF_NX ? RF_NX : 0) | (l->level > 1 ? RF_HUGE : 0) |
			 (l->eff & PTW_EFF_U ? RF_USER : 0);
	uint64_t table = l->pte_gpa / COWVMM_PAGE_SIZE;
	struct run *r = &c->r;
	if (r->open && l->level == 1 && r->table == table && r->va + r->n == l->va / COWVMM_PAGE_SIZE &&
	    r->frame + r->n == frame && r->flags == flags && r->rc == rc && r->pins == pins) {
		r->n++;
		return 0;
	}
	flush_run(c);
	*r = (struct run){ true, table, l->va / COWVMM_PAGE_SIZE, frame, l->size / COWVMM_PAGE_SIZE,
			   (unsigned)((l->pte_gpa & 0xfff) / 8), flags, rc, pins };
	return 0;
}

/* "tables":[...],"runs":[...],"hidden_tables":N,"hidden_pages":N of the tables at `cr3`. */
static int write_as(FILE *f, const struct books *b, uint64_t cr3)
{
	char *runs = NULL;
	size_t rlen = 0;
	struct asctx c = { .f = f, .b = b, .first_table = true, .first_run = true };
	c.runs_f = open_memstream(&runs, &rlen);
	if (!c.runs_f)
		return -ENOMEM;
	fputs(",\"tables\":[", f);
	const struct ptw_ops ops = { .table = as_table, .leaf = as_leaf };
	ptw_walk(b->m, cr3, PTW_USER_LO, PTW_USER_HI, 0, &ops, &c);
	flush_run(&c);
	if (fclose(c.runs_f)) {
		free(runs);
		return -ENOMEM;
	}
	fprintf(f, "],\"runs\":[%s],\"hidden_tables\":%" PRIu64 ",\"hidden_pages\":%" PRIu64, runs ? runs : "",
		c.hidden_tables, c.hidden_pages);
	free(runs);
	return 0;
}

/* ---- one step ------------------------------------------------------------------- */

static int write_step(FILE *f, const struct books *b, uint64_t seq, unsigned vcpu, const struct cowvmm_hc_inspect *cp,
		      const struct audit_violation *v, size_t nv, uint64_t total)
{
	fprintf(f, "{\"seq\":%" PRIu64 ",\"kind\":\"%s\",\"vcpu\":%u,\"pid\":%d,\"pid2\":%d,\"label\":%u,"
		   "\"va\":%" PRIu64 ",\"old\":%" PRIu64 ",\"new\":%" PRIu64 ",\"nviol\":%" PRIu64 ",\"viol\":[",
		seq, cowvmm_checkpoint_name(cp->checkpoint), vcpu, cp->pid, cp->pid2, cp->label,
		(uint64_t)(cp->va & 0x0000ffffffffffffull), (uint64_t)(cp->frame_old & 0xffffffffffull),
		(uint64_t)(cp->frame_new & 0xffffffffffull), total);
	char buf[512];
	for (size_t i = 0; i < nv && i < 8; i++) {
		if (i)
			fputc(',', f);
		html_json_str(f, audit_format(&v[i], buf, sizeof buf));
	}
	fputs("],\"procs\":[", f);
	/* Every live entry; the owner of each address space (books_as_read's
	 * choice) carries its tables, its threads say whose they share. */
	struct books_as_key *keys = NULL;
	size_t nk = 0;
	if (books_as_read(b, &keys, &nk))
		return -ENOMEM;
	bool first = true;
	int err = 0;
	for (uint32_t s = 0; b->valid && s < b->d.nproc && !err; s++) {
		struct guest_proc p;
		if (!books_proc(b, s, &p))
			continue;
		fprintf(f, "%s{\"pid\":%d,\"ppid\":%d,\"tgid\":%d,\"state\":\"%s\",\"name\":", first ? "" : ",", p.pid,
			p.ppid, p.tgid, cowvmm_pstate_name(p.state));
		first = false;
		html_json_str(f, p.name);
		if (books_has_mm(p.state, p.cr3)) {
			const struct books_as_key *k = books_as_find(keys, nk, books_root(p.cr3));
			fprintf(f, ",\"root\":%" PRIu64, books_root(p.cr3) / COWVMM_PAGE_SIZE);
			if (k && k->pid != p.pid)
				fprintf(f, ",\"as\":%d", k->pid);
			else
				err = write_as(f, b, p.cr3);
		}
		fputc('}', f);
	}
	free(keys);
	fputs("]}", f);
	return err;
}

int html_record(struct html_rec *r, const struct books *b, uint64_t seq, unsigned vcpu,
		const struct cowvmm_hc_inspect *cp, const struct audit_violation *v, size_t nv, uint64_t total)
{
	if (seq < r->from || seq > r->to)
		return 0;
	if (r->full) {
		r->dropped++;
		return 0;
	}
	char *step = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&step, &len);
	if (!f)
		return -ENOMEM;
	int err = write_step(f, b, seq, vcpu, cp, v, nv, total);
	if (fclose(f) || err) {
		free(step);
		return -ENOMEM;
	}
	if (r->len + len + 1 > r->cap) {
		/* Over the cap: counted, and every later one too (the page says so). */
		free(step);
		r->full = true;
		r->dropped++;
		return 0;
	}
	if (r->len + len + 2 > r->size) {
		size_t size = r->size ? r->size : 65536;
		while (size < r->len + len + 2)
			size *= 2;
		char *nb = realloc(r->buf, size);
		if (!nb) {
			free(step);
			return -ENOMEM;
		}
		r->buf = nb;
		r->size = size;
	}
	if (r->len)
		r->buf[r->len++] = ',';
	memcpy(r->buf + r->len, step, len);
	r->len += len;
	r->buf[r->len] = 0;
	free(step);
	r->kept++;
	if (total)
		r->failed++;
	return 1;
}

int html_write(FILE *f, const struct html_rec *r, const char *title, const char *cmdline)
{
	fputs(html_page_head, f);
	fputs("{\"title\":", f);
	html_json_str(f, title);
	fputs(",\"cmdline\":", f);
	html_json_str(f, cmdline);
	fprintf(f, ",\"window\":[%" PRIu64 ",%" PRIu64 "],\"dropped\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"steps\":[",
		r->from, r->to, r->dropped, r->failed);
	if (r->len)
		fwrite(r->buf, 1, r->len, f);
	fputs("]}\n", f);
	fputs(html_page_tail, f);
	return ferror(f) ? -EIO : 0;
}
