/* tests/unit/test-describe.c — describe_validate(): a sane HC_DESCRIBE descriptor passes, each broken field fails. */
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "books.h"

#define RAM (64ull << 20)

static struct cowvmm_hc_describe valid(void)
{
	struct cowvmm_hc_describe d;
	memset(&d, 0, sizeof d);
	d.layout_version = COWVMM_LAYOUT_VERSION;
	d.nproc = 64;
	d.proc_table_gpa = 0x200000;
	d.proc = (struct cowvmm_proc_layout){ .stride = 128, .off_pid = 0, .off_ppid = 4,
					      .off_state = 8, .off_cr3 = 16, .off_name = 24 };
	d.nframes = RAM / 4096;
	d.refcount_gpa = 0x300000;
	d.pins_gpa = 0x310000;
	d.first_frame = 0x400;
	d.free_count_gpa = 0x320000;
	d.zero_frame = 0x401;
	d.kernel_pml4_gpa = 0x321000;
	d.stats_gpa = 0x322000;
	return d;
}

static char err[256];

#define BAD(field_assign, word, what) do { \
	struct cowvmm_hc_describe d = valid(); \
	field_assign; \
	int r_ = describe_validate(&d, RAM, err, sizeof err); \
	ok(r_ == -1 && strstr(err, word), "refused: %s (%s)", what, err); \
} while (0)

int main(void)
{
	struct cowvmm_hc_describe d = valid();
	err[0] = 0;
	ok(describe_validate(&d, RAM, err, sizeof err) == 0, "valid descriptor accepted %s", err);
	d.nframes = RAM / 4096;
	d.refcount_gpa = RAM - d.nframes * 4;
	ok(describe_validate(&d, RAM, err, sizeof err) == 0, "refcount array ending at the end of RAM accepted");
	d.proc.off_tgid = 12; /* the guest's pad after state */
	ok(describe_validate(&d, RAM, err, sizeof err) == 0, "thread-group id in the entry accepted %s", err);
	d.proc.off_tgid = 124;
	ok(describe_validate(&d, RAM, err, sizeof err) == 0, "thread-group id in the entry's last 4 bytes accepted %s", err);

	BAD(d.layout_version = 2, "layout version", "unknown layout version");
	BAD(d.nproc = 0, "nproc", "no process slots");
	BAD(d.nproc = 0x7fffffff, "nproc", "absurd process count");
	BAD(d.proc.stride = 0, "stride", "zero stride");
	BAD(d.proc.stride = 6, "stride", "stride not a multiple of 4");
	BAD(d.proc.off_name = 120, "name", "name field past the stride");
	BAD(d.proc.off_cr3 = 0xfffffffc, "cr3", "field offset near 2^32");
	BAD(d.proc.off_cr3 = 12, "misaligned", "misaligned cr3 field");
	BAD(d.proc.off_tgid = 128, "tgid", "tgid field past the stride");
	BAD(d.proc.off_tgid = 126, "tgid", "tgid field straddling the end of the entry");
	BAD(d.proc.off_tgid = 0xfffffffc, "tgid", "tgid offset near 2^32");
	BAD(d.proc.off_tgid = 14, "misaligned", "misaligned tgid field");
	BAD(d.proc_table_gpa = RAM - 64, "process table", "process table running past RAM");
	BAD(d.proc_table_gpa = 0xfffffffffffff000ull, "process table", "process table at 2^64 - 4096");
	BAD(d.proc_table_gpa = 0x200004, "process table", "misaligned process table");
	BAD(d.nframes = 0, "nframes", "no frames");
	BAD(d.nframes = RAM / 4096 + 1, "nframes", "more frames than RAM");
	BAD(d.first_frame = d.nframes, "first_frame", "first frame beyond the frames");
	BAD(d.zero_frame = d.nframes + 5, "zero_frame", "zero frame beyond the frames");
	BAD(d.refcount_gpa = RAM - 8, "refcount", "refcount array running past RAM");
	BAD(d.refcount_gpa = 0x300002, "refcount", "misaligned refcount array");
	BAD(d.pins_gpa = 0xffffffffffffff00ull, "pins", "pins array near 2^64");
	BAD(d.free_count_gpa = RAM, "free count", "free count at the end of RAM");
	BAD(d.stats_gpa = RAM - 8, "stats", "stats running past RAM");
	BAD(d.kernel_pml4_gpa = 0x321008, "PML4", "kernel PML4 not page aligned");
	BAD(d.kernel_pml4_gpa = RAM, "PML4", "kernel PML4 outside RAM");
	/* Regions the audit could not use: refused at boot, not at every checkpoint. */
	BAD((d.off_regions = 64, d.max_regions = 16, d.region_stride = 4), "region", "region stride below a region");
	BAD((d.off_regions = 64, d.max_regions = 1000, d.region_stride = sizeof(struct cowvmm_region)), "region",
	    "regions running past the process entry");
	BAD((d.off_regions = 64, d.max_regions = 2, d.region_stride = sizeof(struct cowvmm_region),
	     d.off_nregions = d.proc.stride), "region", "region count past the process entry");
	return tap_done();
}
