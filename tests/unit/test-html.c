/* tests/unit/test-html.c — vmm --html's recording and page writer on a simulated guest: contents, escaping, window, cap, failed steps (TAP). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "simguest.h"
#include "tap.h"

#define RAM (16ull << 20)

static struct cowvmm_hc_inspect cp(uint32_t kind, int32_t pid, int32_t pid2)
{
	return (struct cowvmm_hc_inspect){ .checkpoint = kind, .pid = pid, .pid2 = pid2 };
}

/* The whole page for recording r, as a string (free() it). */
static char *page(const struct html_rec *r, const char *title)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	int e = html_write(f, r, title, "cowtest share");
	fclose(f);
	if (e) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The page's data: between the JSON script's opening tag and the next "</script". */
static char *data_of(const char *pg)
{
	const char *open = "<script type=\"application/json\" id=\"run\">";
	const char *a = strstr(pg, open);
	if (!a)
		return NULL;
	a += strlen(open);
	const char *b = strstr(a, "</script");
	return b ? strndup(a, (size_t)(b - a)) : NULL;
}

/* The first run in the data that starts at VA page `vapage` (of any
 * process): true and its fields. */
static bool find_run(const char *d, uint64_t vapage, uint64_t *frame, uint64_t *n, unsigned *flags, unsigned *rc)
{
	char key[40];
	snprintf(key, sizeof key, ",%llu,", (unsigned long long)vapage);
	for (const char *p = strstr(d, key); p; p = strstr(p + 1, key)) {
		unsigned long long fr, np;
		unsigned fl, r, pins;
		/* [table,index,VA page,frame,pages,flags,refcount,pins]: the key is "index,VA page," */
		if (sscanf(p + strlen(key), "%llu,%llu,%u,%u,%u]", &fr, &np, &fl, &r, &pins) == 5) {
			*frame = fr, *n = np, *flags = fl, *rc = r;
			return true;
		}
	}
	return false;
}

/* Audit the simulated guest at checkpoint c, then record it as step seq. */
static int step(struct sim *s, struct html_rec *r, struct cowvmm_hc_inspect c)
{
	audit_run(s->a, &c);
	size_t nv;
	uint64_t total;
	const struct audit_violation *v = audit_violations(s->a, &nv, &total);
	return html_record(r, audit_books(s->a), audit_seq(s->a), 0, &c, v, nv, total);
}

static void test_contents(void)
{
	struct sim s;
	scenario(&s, RAM); /* pid 1 with 2 text, 8 data pages, a zero page; forked into pid 2 */
	struct html_rec *r = html_rec_new(1, 100, 1 << 20);
	EQ(step(&s, r, cp(COWVMM_CP_FORK, 1, 2)), 1, "a fork checkpoint is recorded");
	uint64_t va = VA_DATA + 3 * PG, fo, fn;
	sim_cow(&s, 1, va, &fo, &fn);
	struct cowvmm_hc_inspect c = cp(COWVMM_CP_COW_AFTER, 2, 0);
	c.va = va, c.frame_old = fo, c.frame_new = fn;
	EQ(step(&s, r, c), 1, "a COW checkpoint is recorded");
	char *pg = page(r, "test");
	char *d = pg ? data_of(pg) : NULL;
	OK(d != NULL, "the page has its data block");
	if (!d)
		return;
	/* Runs are [table, index, VA page, frame, pages, flags, refcount, pins];
	 * flags: 1 RW, 2 COW, 4 zero, 8 NX, 32 user. */
	char want[256];
	uint64_t frame, n;
	unsigned flags, refc;
	/* The simulated allocator gave the first data page's frame before a
	 * page table, the other seven contiguous frames after it. */
	OK(find_run(d, VA_DATA / PG, &frame, &n, &flags, &refc) && n == 1 && flags == 42 && refc == 2,
	   "after fork: the first data page is COW (flags 42), refcount 2");
	OK(find_run(d, VA_DATA / PG + 1, &frame, &n, &flags, &refc) && n == 7 && flags == 42 && refc == 2,
	   "after fork: the next 7 data pages, on contiguous frames, are one run");
	OK(find_run(d, VA_TEXT / PG, &frame, &n, &flags, &refc) && flags == 32 && refc == 2,
	   "after fork: text is read-only, not COW (flags 32), refcount 2");
	OK(find_run(d, VA_ZERO / PG, &frame, &n, &flags, &refc) && (flags & 4) && frame == s.d.zero_frame,
	   "the zero page is marked as the zero frame");
	snprintf(want, sizeof want, "%llu,%llu,1,",
		 (unsigned long long)(va / PG), (unsigned long long)fn);
	OK(strstr(d, want) != NULL, "after the copy: the child's page maps the new frame on its own");
	snprintf(want, sizeof want, "\"kind\":\"cow-after\",\"vcpu\":0,\"pid\":2,\"pid2\":0,\"label\":0,\"va\":%llu,\"old\":%llu,\"new\":%llu",
		 (unsigned long long)va, (unsigned long long)fo, (unsigned long long)fn);
	OK(strstr(d, want) != NULL, "the checkpoint's kind, pid, address and frames are recorded");
	OK(strstr(d, "\"pid\":1,\"ppid\":0,\"tgid\":1,\"state\":\"runnable\",\"name\":\"init\"") != NULL,
	   "processes are listed with their names and states");
	OK(!strncmp(pg, "<!DOCTYPE html>", 15) && strstr(pg, "</html>\n") != NULL, "a whole HTML document");
	OK(strstr(pg, "http://") == NULL || strstr(pg, "http://www.w3.org/2000/svg") != NULL,
	   "no address but the SVG namespace (the page loads nothing)");
	free(d);
	free(pg);
	uint64_t kept, dropped, failed;
	html_rec_counts(r, &kept, &dropped, &failed);
	OK(kept == 2 && dropped == 0 && failed == 0, "counts: 2 kept, none dropped, none failed");
	html_rec_free(r);
	sim_free(&s);
}

static void test_escaping(void)
{
	struct sim s;
	sim_init(&s, RAM);
	sim_proc(&s, 0, 1, 0, "</script><b>&\"\\");
	sim_page(&s, 0, VA_DATA, DATA_FLAGS);
	struct html_rec *r = html_rec_new(1, 100, 1 << 20);
	step(&s, r, cp(COWVMM_CP_USER, 1, 0));
	char *pg = page(r, "title </script> & \"quoted\"");
	char *d = pg ? data_of(pg) : NULL;
	OK(d && strstr(d, "\"name\":\"\\u003c/script\\u003e\\u003cb\\u003e\\u0026\\\"\\\\\"") != NULL,
	   "a process name with </script>, &, quote and backslash is escaped inside the data");
	OK(d && strstr(d, "\"title\":\"title \\u003c/script\\u003e \\u0026 \\\"quoted\\\"\"") != NULL,
	   "the title is escaped too");
	/* The data block ends at the first "</script": it must be the real one. */
	OK(d && strstr(d, "\"steps\":[") && d[strlen(d) - 2] == '}', "nothing in the data ends the script block early");
	free(d);
	free(pg);
	html_rec_free(r);
	sim_free(&s);
}

static void test_window_cap_failed(void)
{
	struct sim s;
	scenario(&s, RAM);
	struct html_rec *r = html_rec_new(2, 3, 1 << 20);
	int got[5];
	for (int i = 0; i < 5; i++)
		got[i] = step(&s, r, cp(COWVMM_CP_USER, 1, 0));
	OK(got[0] == 0 && got[1] == 1 && got[2] == 1 && got[3] == 0 && got[4] == 0,
	   "--html-window 2:3 records checkpoints 2 and 3 only");
	html_rec_free(r);

	/* One step of this scenario is about 1 KB: a 1500-byte cap keeps one. */
	r = html_rec_new(1, 100, 1500);
	for (int i = 0; i < 4; i++)
		step(&s, r, cp(COWVMM_CP_USER, 1, 0));
	uint64_t kept, dropped, failed;
	html_rec_counts(r, &kept, &dropped, &failed);
	OK(kept == 1 && dropped == 3, "over the cap: the rest is counted, not kept (kept %llu, dropped %llu)",
	   (unsigned long long)kept, (unsigned long long)dropped);
	char *pg = page(r, "t");
	OK(pg && strstr(pg, "\"dropped\":3") != NULL, "the page says how many checkpoints were dropped");
	free(pg);
	html_rec_free(r);

	/* A broken refcount: the audit fails at that checkpoint, the step is marked. */
	r = html_rec_new(1, 100, 1 << 20);
	step(&s, r, cp(COWVMM_CP_USER, 1, 0));
	uint64_t f = (*sim_pte(&s, 0, VA_DATA) & COWVMM_PTE_ADDR) / PG;
	(*rc(&s, f))++;
	step(&s, r, cp(COWVMM_CP_USER, 1, 0));
	html_rec_counts(r, &kept, &dropped, &failed);
	OK(kept == 2 && failed == 1, "a checkpoint whose audit failed is counted as failed");
	pg = page(r, "t");
	char *d = pg ? data_of(pg) : NULL;
	OK(d && strstr(d, "\"nviol\":0,\"viol\":[]"), "the clean step says no violation");
	OK(d && strstr(d, "\"nviol\":1,\"viol\":[\"") && strstr(d, "refcount"),
	   "the failed step carries the count and the audit's own words");
	OK(pg && strstr(pg, "\"failed\":1,") != NULL, "the page says one step failed");
	free(d);
	free(pg);
	html_rec_free(r);
	sim_free(&s);
}

/* A thread (its own entry on its leader's tables): named with its group, no tables of its own. */
static void test_thread(void)
{
	struct sim s;
	scenario(&s, RAM);
	sim_thread(&s, 2, 3, 0); /* pid 3, a thread of pid 1 */
	struct html_rec *r = html_rec_new(1, 100, 1 << 20);
	step(&s, r, cp(COWVMM_CP_USER, 1, 0));
	char *pg = page(r, "t");
	char *d = pg ? data_of(pg) : NULL;
	OK(d && strstr(d, "{\"pid\":3,\"ppid\":") && strstr(d, "\"tgid\":1,"),
	   "the thread has its own entry, in its leader's group");
	const char *t = d ? strstr(d, "{\"pid\":3,") : NULL;
	const char *end = t ? strchr(t, '}') : NULL;
	char *entry = t && end ? strndup(t, (size_t)(end - t + 1)) : NULL;
	OK(entry && strstr(entry, ",\"as\":1}") && !strstr(entry, "\"tables\""),
	   "the thread's entry points at pid 1's address space, without tables of its own");
	free(entry);
	free(d);
	free(pg);
	html_rec_free(r);
	sim_free(&s);
}

static void test_empty(void)
{
	struct html_rec *r = html_rec_new(1, 10, 1 << 20);
	char *pg = page(r, "empty");
	OK(pg && strstr(pg, "\"steps\":[]}") != NULL, "no checkpoint: a valid page with no steps");
	free(pg);
	html_rec_free(r);
}

int main(void)
{
	test_contents();
	test_escaping();
	test_window_cap_failed();
	test_thread();
	test_empty();
	return tap_done();
}
