/* guest/kernel/main.c — kmain: take over from the VMM's boot state, set up the CPU and memory, describe ourselves, start init. */
#include "kernel.h"
#include "mm.h"
#include "proc.h"
#include "x86.h"

struct cowvmm_boot_info boot;
struct cowvmm_guest_stats stats;
extern char __kernel_end[];

static void cpu_init(void)
{
	/* WP: supervisor writes honour read-only PTEs, so the kernel's own
	 * writes to user COW pages fault and get copied.  FPU/SSE on for users. */
	write_cr0((read_cr0() | X86_CR0_WP | X86_CR0_MP) & ~(X86_CR0_EM | X86_CR0_TS));
	write_cr4(read_cr4() | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT);
	__asm__ volatile("fninit");
	fxsave(fx_default);
	gdt_init();
	idt_init();
	syscall_init();
}

void kmain(uint64_t info_gpa, uint64_t magic);

void kmain(uint64_t info_gpa, uint64_t magic)
{
	/* The VMM's boot tables map low RAM at the direct map. */
	memcpy(&boot, phys_to_virt(info_gpa), sizeof(boot));
	boot.cmdline[COWVMM_CMDLINE_MAX - 1] = '\0';
	kprintf("cowvmm guest kernel (ABI %u): %lu MiB RAM, cmdline '%s'\n",
		COWVMM_ABI_VERSION, boot.ram_size >> 20, boot.cmdline);
	if (magic != COWVMM_BOOT_MAGIC || boot.magic != COWVMM_BOOT_MAGIC)
		panic("bad boot magic %#lx / %#lx", magic, boot.magic);
	if (boot.abi_version != COWVMM_ABI_VERSION)
		panic("VMM speaks ABI %u, kernel %u", boot.abi_version, COWVMM_ABI_VERSION);

	cpu_init();
	kernel_page_tables_init();
	inject_init();
	frames_init(boot.ram_size, MAX(boot.kernel_end_gpa, virt_to_phys(__kernel_end)));
	zero_frame_pa = kpage_alloc(-1);
	if (!zero_frame_pa)
		panic("no frame for the zero page");
	kprintf("memory: %lu frames free of %lu (first %#lx), zero frame %#lx\n",
		free_frames, nframes, first_frame, zero_frame_pa >> PAGE_SHIFT);

	checkpoints_wanted = audit_enabled() || boot.inject_gpa != 0;
	describe_to_vmm();
	checkpoint(COWVMM_CP_BOOT, 0, 0, 0, 0, 0, 0);
	ktest_run(boot.cmdline);
	user_init(boot.cmdline);
}
