/* vmm/books.c — reading the guest's process table and frame arrays, every entry bounds-checked at every read. */
#include <stdlib.h>
#include <string.h>

#include "books.h"

void books_init(struct books *b, const struct gmem *m, const struct cowvmm_hc_describe *d)
{
	b->m = m;
	b->d = *d;
	b->valid = true;
}

bool books_proc(const struct books *b, uint32_t slot, struct guest_proc *out)
{
	if (!b->valid || slot >= b->d.nproc)
		return false;
	const struct cowvmm_proc_layout *l = &b->d.proc;
	const uint8_t *e = books_proc_entry(b, slot);
	if (!e || l->stride < 16 || l->off_pid > l->stride - 4 || l->off_ppid > l->stride - 4 ||
	    l->off_state > l->stride - 4 || l->off_cr3 > l->stride - 8 || l->off_name > l->stride - 16 ||
	    l->off_tgid > l->stride - 4)
		return false;
	memset(out, 0, sizeof *out);
	memcpy(&out->pid, e + l->off_pid, 4);
	memcpy(&out->ppid, e + l->off_ppid, 4);
	/* off_tgid 0: a guest without threads, every entry its own group. */
	if (l->off_tgid)
		memcpy(&out->tgid, e + l->off_tgid, 4);
	else
		out->tgid = out->pid;
	memcpy(&out->state, e + l->off_state, 4);
	memcpy(&out->cr3, e + l->off_cr3, 8);
	memcpy(out->name, e + l->off_name, 16);
	out->name[16] = 0;
	for (char *c = out->name; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?'; /* hostile bytes never reach a terminal or the JSON */
	return out->pid != 0 && out->state != COWVMM_PSTATE_UNUSED;
}

bool books_find_pid(const struct books *b, int32_t pid, struct guest_proc *out, uint32_t *slot)
{
	for (uint32_t i = 0; b->valid && i < b->d.nproc; i++)
		if (books_proc(b, i, out) && out->pid == pid) {
			if (slot)
				*slot = i;
			return true;
		}
	return false;
}

bool books_find_leader(const struct books *b, int32_t pid, struct guest_proc *out, uint32_t *slot)
{
	struct guest_proc p;
	if (!books_find_pid(b, pid, &p, slot))
		return false;
	if (p.tgid == p.pid) {
		*out = p;
		return true;
	}
	return books_find_pid(b, p.tgid, out, slot) && out->tgid == out->pid;
}

const uint8_t *books_proc_entry(const struct books *b, uint32_t slot)
{
	if (!b->valid || slot >= b->d.nproc)
		return NULL;
	/* Cannot wrap before gmem_ptr()'s check: describe_validate() put the
	 * whole table, nproc x stride bytes from proc_table_gpa, inside RAM. */
	return gmem_ptr(b->m, b->d.proc_table_gpa + (uint64_t)slot * b->d.proc.stride, b->d.proc.stride);
}

bool books_has_mm(uint32_t state, uint64_t cr3)
{
	return state != COWVMM_PSTATE_ZOMBIE && (cr3 & COWVMM_PTE_ADDR) != 0;
}

static int as_cmp(const void *x, const void *y)
{
	const struct books_as_key *a = x, *b = y;
	if (a->root != b->root)
		return a->root < b->root ? -1 : 1;
	bool la = a->pid == a->tgid, lb = b->pid == b->tgid;
	if (la != lb)
		return la ? -1 : 1;
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx; /* a duplicate pid: slot order */
}

void books_as_sort(struct books_as_key *k, size_t n)
{
	if (n > 1)
		qsort(k, n, sizeof *k, as_cmp);
}

const struct books_as_key *books_as_find(const struct books_as_key *k, size_t n, uint64_t root)
{
	size_t lo = 0, hi = n; /* the first key with k->root >= root */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (k[mid].root < root)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && k[lo].root == root ? &k[lo] : NULL;
}

int books_as_read(const struct books *b, struct books_as_key **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!b->valid)
		return 0;
	struct books_as_key *k = malloc((size_t)b->d.nproc * sizeof *k);
	if (!k)
		return -1;
	size_t m = 0;
	for (uint32_t i = 0; i < b->d.nproc; i++) {
		struct guest_proc p;
		if (books_proc(b, i, &p) && books_has_mm(p.state, p.cr3))
			k[m++] = (struct books_as_key){ books_root(p.cr3), p.pid, p.tgid, i };
	}
	books_as_sort(k, m);
	*out = k;
	*n = m;
	return 0;
}

static uint32_t *frame_cell(const struct books *b, uint64_t array_gpa, uint64_t f)
{
	if (!b->valid || !array_gpa || f >= b->d.nframes)
		return NULL;
	/* Cannot wrap: describe_validate() put both arrays (4 x nframes bytes) inside RAM. */
	return gmem_ptr(b->m, array_gpa + 4 * f, 4);
}

uint32_t *books_refcount_ptr(const struct books *b, uint64_t f)
{
	return frame_cell(b, b->d.refcount_gpa, f);
}

uint32_t *books_pins_ptr(const struct books *b, uint64_t f)
{
	return frame_cell(b, b->d.pins_gpa, f);
}

bool books_frame_counts(const struct books *b, uint64_t f, uint32_t *refcount, uint32_t *pins)
{
	const uint32_t *r = books_refcount_ptr(b, f), *p = books_pins_ptr(b, f);
	if (!r || !p)
		return false;
	memcpy(refcount, r, 4);
	memcpy(pins, p, 4);
	return true;
}

int64_t books_refcount(const struct books *b, uint64_t f)
{
	const uint32_t *r = books_refcount_ptr(b, f);
	return r ? (int64_t)*r : -1;
}
