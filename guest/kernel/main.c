/* guest/kernel/main.c — kmain: take over from the VMM's boot state, set up the CPU and memory, start the other CPUs, describe ourselves, start init. */
#include "kernel.h"
#include "cpu.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

struct cowvmm_boot_info boot;
struct cowvmm_guest_stats stats;
uint32_t kbugs;
extern char __kernel_end[];

void kmain(uint64_t info_gpa, uint64_t magic);

/* Bug-kernel switches (kernel.h): leading `kbug=NAME[,NAME...]` words are
 * the kernel's; they are cut from the command line before init sees it. */
static const struct { const char *name; uint32_t bit; } kbug_names[] = {
	{ "noshootdown", KBUG_NO_SHOOTDOWN }, { "putbeforeflush", KBUG_PUT_BEFORE_FLUSH },
	{ "norecheck", KBUG_NO_RECHECK },     { "forknoflush", KBUG_FORK_NO_FLUSH },
	{ "notimer", KBUG_NO_TIMER },
};

static void parse_kbugs(char *line)
{
	char *s = line;
	for (;;) {
		while (*s == ' ')
			s++;
		if (strncmp(s, "kbug=", 5))
			break;
		s += 5;
		while (*s && *s != ' ') {
			size_t n = 0;
			while (s[n] && s[n] != ' ' && s[n] != ',')
				n++;
			uint32_t bit = 0;
			for (size_t i = 0; i < ARRAY_SIZE(kbug_names); i++)
				if (strlen(kbug_names[i].name) == n && !strncmp(s, kbug_names[i].name, n))
					bit = kbug_names[i].bit;
			if (!bit)
				panic("unknown kbug '%.*s' (noshootdown putbeforeflush norecheck forknoflush notimer)",
				      (int)n, s);
			kbugs |= bit;
			s += n;
			if (*s == ',')
				s++;
		}
	}
	memmove(line, s, strlen(s) + 1);
	if (kbugs)
		kprintf("kernel: BUG KERNEL: safeguards off (kbug %#x)\n", kbugs);
}

void kmain(uint64_t info_gpa, uint64_t magic)
{
	/* GS.base first: every lock, the console's included, asks mycpu(). */
	cpu_early(&cpus[0]);
	/* The VMM's boot tables map low RAM at the direct map. */
	memcpy(&boot, phys_to_virt(info_gpa), sizeof(boot));
	boot.cmdline[COWVMM_CMDLINE_MAX - 1] = '\0';
	kprintf("cowvmm guest kernel (ABI %u): %lu MiB RAM, cmdline '%s'\n",
		COWVMM_ABI_VERSION, boot.ram_size >> 20, boot.cmdline);
	if (magic != COWVMM_BOOT_MAGIC || boot.magic != COWVMM_BOOT_MAGIC)
		panic("bad boot magic %#lx / %#lx", magic, boot.magic);
	if (boot.abi_version != COWVMM_ABI_VERSION)
		panic("VMM speaks ABI %u, kernel %u", boot.abi_version, COWVMM_ABI_VERSION);

	parse_kbugs(boot.cmdline);

	idt_init();
	cpu_init(&cpus[0]);
	fxsave(fx_default); /* the FPU state every exec starts from (fninit's) */
	kernel_page_tables_init();
	inject_init();
	frames_init(boot.ram_size, MAX(boot.kernel_end_gpa, virt_to_phys(__kernel_end)));
	zero_frame_pa = kpage_alloc(-1);
	if (!zero_frame_pa)
		panic("no frame for the zero page");
	kprintf("memory: %lu frames free of %lu (first %#lx), zero frame %#lx\n",
		free_frames, nframes, first_frame, zero_frame_pa >> PAGE_SHIFT);

	/* The other CPUs come up (and idle) before the first audit, so every
	 * checkpoint from the first one on stops a world of ncpus CPUs. */
	explore_on = (boot.flags & COWVMM_BOOT_F_EXPLORE) != 0;
	smp_init();

	checkpoints_wanted = audit_enabled() || boot.inject_gpa != 0;
	describe_to_vmm();
	checkpoint(COWVMM_CP_BOOT, 0, 0, 0, 0, 0, 0);
	ktest_run(boot.cmdline);
	user_init(boot.cmdline);
}
