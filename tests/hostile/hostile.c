/* tests/hostile/hostile.c — a freestanding guest kernel written to attack the VMM: crafted hypercalls, descriptors, page tables, samples and floods, one attack per run, chosen on its command line. */
/*
 * It is not the real guest: it passes the VMM's image checks, runs in ring 0
 * on the VMM's boot page tables (so a host KVM that cannot run ring 3 runs
 * it), and then does what a kernel that wants to crash, hang or exhaust the
 * VMM would do.  Each mode ends with a status the VMM documents; the batch
 * tests/kvm/hostile.kvm checks it, the message, the VMM's time and memory.
 *
 *   ok                       exit 0 (the batch's probe: ring 0 works here)
 *   hc NR GPA                one hypercall NR with argument address GPA
 *   describe KIND            a descriptor with one hostile field: outside,
 *                            wrap, huge, misaligned, regions
 *   pt KIND                  valid books, one process whose page tables are
 *                            hostile (loop, alias, giant, outside,
 *                            reserved), then an audit checkpoint
 *   samples                  timed loops and samples at the extremes
 *   flood                    console output without end
 *   storm                    50,000 hypercalls, then exit 0
 */
#include <stdint.h>

#include "cowvmm/abi.h"

__asm__(".section .text.entry, \"ax\"\n"
	".globl _start\n"
	"_start:\n"
	"	lea stack_top(%rip), %rsp\n"
	"	call hmain\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	".bss\n"
	".balign 16\n"
	"stack: .skip 16384\n"
	"stack_top:\n"
	".text\n");

#define SCRATCH 0x400000ull /* guest-physical work area (2 MiB), above the image */
#define FRAME(n) (SCRATCH + (uint64_t)(n) * 4096)

static struct cowvmm_boot_info *boot;

static inline void *phys(uint64_t gpa) { return (void *)(COWVMM_DIRECT_MAP_BASE + gpa); }
static inline uint64_t gpa_of(const void *p) { return (uint64_t)p - COWVMM_KERNEL_BASE; }

/* The raw port OUT: any number, any address (the VMM must cope). */
static inline void hc(unsigned nr, uint64_t gpa)
{
	__asm__ volatile("outl %0, %1" : : "a"((uint32_t)gpa), "Nd"((uint16_t)(COWVMM_HC_PORT_BASE + nr)) : "memory");
}

static struct cowvmm_hc_console con __attribute__((aligned(8)));
static struct cowvmm_hc_exit ex __attribute__((aligned(8)));

static uint64_t slen(const char *s)
{
	uint64_t n = 0;
	while (s[n])
		n++;
	return n;
}

static void say(const char *s)
{
	con.buf_gpa = gpa_of(s);
	con.len = slen(s);
	hc(COWVMM_HC_CONSOLE, gpa_of(&con));
}

static _Noreturn void done(uint64_t status)
{
	ex.status = status;
	hc(COWVMM_HC_EXIT, gpa_of(&ex));
	for (;;)
		__asm__ volatile("cli; hlt");
}

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static uint64_t num(const char *s)
{
	uint64_t v = 0;
	int base = 10;
	if (s[0] == '0' && s[1] == 'x')
		s += 2, base = 16;
	for (; *s; s++) {
		unsigned d = *s >= '0' && *s <= '9' ? (unsigned)(*s - '0') :
			     *s >= 'a' && *s <= 'f' ? (unsigned)(*s - 'a' + 10) : 99;
		if (d >= (unsigned)base)
			break;
		v = v * (uint64_t)base + d;
	}
	return v;
}

/* ---- the books of a small, honest-looking kernel ------------------------------ */

static struct cowvmm_hc_describe desc __attribute__((aligned(8)));

/* Frames 8..9 of SCRATCH: process table and counters; frames 16.. page
 * tables; refcounts and pins at 16 MiB.  Everything the descriptor covers
 * is in RAM, and zero: the VMM hands over zeroed RAM (nothing to clear). */
static void books(void)
{
	uint64_t nframes = boot->ram_size / 4096;
	desc = (struct cowvmm_hc_describe){
		.layout_version = COWVMM_LAYOUT_VERSION, .nproc = 4, .proc_table_gpa = FRAME(8),
		.proc = { .stride = 128, .off_pid = 0, .off_ppid = 4, .off_state = 8, .off_cr3 = 16, .off_name = 24 },
		.refcount_gpa = 0x1000000, .nframes = nframes, .first_frame = SCRATCH / 4096 + 16,
		.free_count_gpa = FRAME(9), .pins_gpa = 0x1000000 + 4 * nframes, .zero_frame = SCRATCH / 4096 + 16,
		.kernel_pml4_gpa = COWVMM_BOOT_PT_GPA, .stats_gpa = FRAME(9) + 64,
	};
}

static void process(uint64_t cr3)
{
	uint8_t *e = phys(FRAME(8));
	*(int32_t *)(e + 0) = 1;
	*(int32_t *)(e + 4) = 0;
	*(uint32_t *)(e + 8) = COWVMM_PSTATE_RUNNING;
	*(uint64_t *)(e + 16) = cr3;
	const char *n = "hostile";
	for (int i = 0; n[i]; i++)
		e[24 + i] = (uint8_t)n[i];
}

static void describe_mode(const char *kind)
{
	books();
	if (streq(kind, "outside"))
		desc.refcount_gpa = boot->ram_size - 4;
	else if (streq(kind, "wrap"))
		desc.proc_table_gpa = 0xfffffffffffff000ull;
	else if (streq(kind, "huge"))
		desc.nproc = 0x7fffffff, desc.nframes = ~0ull;
	else if (streq(kind, "misaligned"))
		desc.pins_gpa += 2;
	else if (streq(kind, "regions"))
		desc.off_regions = 64, desc.max_regions = 1000000, desc.region_stride = 4;
	hc(COWVMM_HC_DESCRIBE, gpa_of(&desc));
	say("hostile: descriptor accepted\n");
	done(0);
}

static struct cowvmm_hc_inspect cp __attribute__((aligned(8)));

static void pt_mode(const char *kind)
{
	const uint64_t tbl = COWVMM_PTE_P | COWVMM_PTE_RW | COWVMM_PTE_US;
	books();
	uint64_t *root = phys(FRAME(16)), *pdpt = phys(FRAME(17)), *pd = phys(FRAME(18)), *pt = phys(FRAME(19));
	(void)pd;
	if (streq(kind, "loop")) {
		for (int i = 0; i < 256; i++)
			root[i] = FRAME(16) | tbl; /* every user slot points back at the root */
	} else if (streq(kind, "alias")) {
		root[0] = FRAME(17) | tbl;
		for (int i = 0; i < 512; i++)
			pdpt[i] = FRAME(18) | tbl, pd[i] = FRAME(19) | tbl, pt[i] = FRAME(20) | tbl;
	} else if (streq(kind, "giant")) {
		/* 512 distinct page directories (no table reached twice), each of
		 * 512 2 MiB leaves inside RAM: 134 million 4 KiB mappings of
		 * managed frames for an audit to count. */
		uint32_t next = 17;
		for (int i = 0; i < 64; i++) {
			uint64_t *pp = phys(FRAME(next));
			root[i] = FRAME(next++) | tbl;
			for (int j = 0; j < 8; j++) {
				uint64_t *d = phys(FRAME(next));
				pp[j] = FRAME(next++) | tbl;
				for (int k = 0; k < 512; k++)
					d[k] = ((uint64_t)(k % 16) << 21) | tbl | COWVMM_PTE_PS;
			}
		}
	} else if (streq(kind, "outside")) {
		for (int i = 0; i < 256; i++)
			root[i] = (0x000ffffffffff000ull - (uint64_t)i * 4096) | tbl;
	} else if (streq(kind, "reserved")) {
		for (int i = 0; i < 256; i++)
			root[i] = FRAME(17) | tbl | COWVMM_PTE_PS;
	}
	process(FRAME(16));
	hc(COWVMM_HC_DESCRIBE, gpa_of(&desc));
	cp = (struct cowvmm_hc_inspect){ .checkpoint = COWVMM_CP_USER, .pid = 1 };
	hc(COWVMM_HC_INSPECT, gpa_of(&cp));
	say("hostile: audit done\n");
	done(cp.verdict ? 1 : 0);
}

static struct cowvmm_hc_bench bench __attribute__((aligned(8)));

static void samples_mode(void)
{
	struct cowvmm_sample *s = phys(FRAME(32));
	for (uint32_t i = 0; i < 256; i++)
		s[i] = (struct cowvmm_sample){ .event = i % COWVMM_EV_COUNT, .arg = i % 3 ? 0xffffffffu : 0,
					       .ticks = i % 2 ? ~0ull : 0 };
	bench = (struct cowvmm_hc_bench){ .phase = 0, .count = COWVMM_EV_FORK | 0xffffffffull << 32 };
	hc(COWVMM_HC_BENCH, gpa_of(&bench));
	bench.phase = 1;
	hc(COWVMM_HC_BENCH, gpa_of(&bench));
	bench = (struct cowvmm_hc_bench){ .phase = 2, .samples_gpa = FRAME(32), .count = 256 };
	hc(COWVMM_HC_BENCH, gpa_of(&bench));
	say("hostile: samples sent\n");
	done(0);
}

static char flood_buf[4096];

void hmain(uint64_t info_gpa, uint64_t magic);
void hmain(uint64_t info_gpa, uint64_t magic)
{
	boot = phys(info_gpa);
	if (magic != COWVMM_BOOT_MAGIC)
		done(99);
	/* The command line: MODE ARG1 ARG2, split in place. */
	char *w[4] = { 0 };
	char *c = boot->cmdline;
	for (int n = 0; n < 4 && *c; n++) {
		while (*c == ' ')
			c++;
		w[n] = c;
		while (*c && *c != ' ')
			c++;
		if (*c)
			*c++ = 0;
	}
	const char *mode = w[0] ? w[0] : "ok";
	if (streq(mode, "ok")) {
		say("hostile: ok\n");
		done(0);
	} else if (streq(mode, "hc") && w[1] && w[2]) {
		hc((unsigned)num(w[1]), num(w[2]));
		say("hostile: hypercall survived\n");
		done(0);
	} else if (streq(mode, "describe") && w[1]) {
		describe_mode(w[1]);
	} else if (streq(mode, "pt") && w[1]) {
		pt_mode(w[1]);
	} else if (streq(mode, "samples")) {
		samples_mode();
	} else if (streq(mode, "flood")) {
		for (int i = 0; i < 4096; i++)
			flood_buf[i] = (char)('a' + i % 26);
		con.buf_gpa = gpa_of(flood_buf);
		for (;;) {
			con.len = sizeof flood_buf;
			hc(COWVMM_HC_CONSOLE, gpa_of(&con));
		}
	} else if (streq(mode, "storm")) {
		con.buf_gpa = gpa_of(flood_buf);
		for (int i = 0; i < 50000; i++) {
			con.len = 0;
			hc(COWVMM_HC_CONSOLE, gpa_of(&con));
		}
		say("hostile: storm over\n");
		done(0);
	}
	say("hostile: unknown mode\n");
	done(2);
}
