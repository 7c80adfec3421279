/* vmm/describe.c — validation of the guest's HC_DESCRIBE descriptor (pure: unit-tested, no KVM). */
#include <stdarg.h>
#include <stdio.h>

#include "books.h"

static int dbad(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int dbad(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

/* [gpa, gpa + count*elem) inside RAM and aligned to `align`, with no overflow. */
static bool in_ram(uint64_t gpa, uint64_t count, uint64_t elem, uint64_t align, uint64_t ram)
{
	if (gpa % align || gpa > ram)
		return false;
	if (elem && count > (ram - gpa) / elem)
		return false;
	return true;
}

#define NPROC_MAX 65536u
#define STRIDE_MAX 65536u

int describe_validate(const struct cowvmm_hc_describe *d, uint64_t ram, char *err, size_t n)
{
	const struct cowvmm_proc_layout *p = &d->proc;
	uint64_t ram_frames = ram / COWVMM_PAGE_SIZE;
	if (d->layout_version != COWVMM_LAYOUT_VERSION)
		return dbad(err, n, "layout version %u, VMM knows %u", d->layout_version, COWVMM_LAYOUT_VERSION);
	if (d->nproc == 0 || d->nproc > NPROC_MAX)
		return dbad(err, n, "nproc %u out of range 1..%u", d->nproc, NPROC_MAX);
	if (p->stride == 0 || p->stride > STRIDE_MAX || p->stride % 4)
		return dbad(err, n, "process stride %u not a multiple of 4 in 4..%u", p->stride, STRIDE_MAX);
	const struct { uint32_t off, size; const char *name; } fields[] = {
		{ p->off_pid, 4, "pid" }, { p->off_ppid, 4, "ppid" }, { p->off_state, 4, "state" },
		{ p->off_cr3, 8, "cr3" }, { p->off_name, 16, "name" },
	};
	/* The thread-group id is optional: offset 0 means none (no threads). */
	if (p->off_tgid && (p->off_tgid > p->stride || 4 > p->stride - p->off_tgid))
		return dbad(err, n, "field tgid at offset %u does not fit the %u-byte stride", p->off_tgid, p->stride);
	if (p->off_tgid % 4)
		return dbad(err, n, "field tgid at offset %u is misaligned", p->off_tgid);
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		if (fields[i].off > p->stride || fields[i].size > p->stride - fields[i].off)
			return dbad(err, n, "field %s at offset %u does not fit the %u-byte stride",
				    fields[i].name, fields[i].off, p->stride);
		if (fields[i].size <= 8 && fields[i].off % fields[i].size)
			return dbad(err, n, "field %s at offset %u is misaligned", fields[i].name, fields[i].off);
	}
	if (!in_ram(d->proc_table_gpa, d->nproc, p->stride, 8, ram))
		return dbad(err, n, "process table 0x%llx (%u x %u bytes) outside RAM or misaligned",
			    (unsigned long long)d->proc_table_gpa, d->nproc, p->stride);
	if (d->nframes == 0 || d->nframes > ram_frames)
		return dbad(err, n, "nframes %llu out of range 1..%llu", (unsigned long long)d->nframes,
			    (unsigned long long)ram_frames);
	if (d->first_frame >= d->nframes)
		return dbad(err, n, "first_frame %llu >= nframes %llu", (unsigned long long)d->first_frame,
			    (unsigned long long)d->nframes);
	if (d->zero_frame >= d->nframes)
		return dbad(err, n, "zero_frame %llu >= nframes %llu", (unsigned long long)d->zero_frame,
			    (unsigned long long)d->nframes);
	const struct { uint64_t gpa, count, elem, align; const char *name; } areas[] = {
		{ d->refcount_gpa, d->nframes, 4, 4, "refcount array" },
		{ d->pins_gpa, d->nframes, 4, 4, "pins array" },
		{ d->free_count_gpa, 1, 8, 8, "free count" },
		{ d->stats_gpa, 1, sizeof(struct cowvmm_guest_stats), 8, "stats" },
		{ d->kernel_pml4_gpa, 1, COWVMM_PAGE_SIZE, COWVMM_PAGE_SIZE, "kernel PML4" },
	};
	for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
		if (!in_ram(areas[i].gpa, areas[i].count, areas[i].elem, areas[i].align, ram))
			return dbad(err, n, "%s at 0x%llx outside RAM or misaligned", areas[i].name,
				    (unsigned long long)areas[i].gpa);
	/* Regions (optional): the whole array and the count inside one entry --
	 * checked here, once, so that a descriptor accepted at boot is one the
	 * audit can use at every checkpoint. */
	if (d->off_regions && (d->region_stride < sizeof(struct cowvmm_region) || d->max_regions == 0 ||
			       d->max_regions > 4096 || d->region_stride > 4096 || d->off_regions > p->stride ||
			       (uint64_t)d->max_regions * d->region_stride > p->stride - d->off_regions ||
			       p->stride < 4 || d->off_nregions > p->stride - 4))
		return dbad(err, n, "region description does not fit a process entry (offset %u, %u x %u bytes, "
			    "count at %u, entry %u bytes)", d->off_regions, d->max_regions, d->region_stride,
			    d->off_nregions, p->stride);
	return 0;
}
