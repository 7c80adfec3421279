/* vmm/main.c — `vmm`: the command line (core options + every module's), kernel lookup, then load, boot and run the guest. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "vmm.h"

#ifndef PKGLIBDIR
#define PKGLIBDIR "/usr/local/lib/cowvmm"
#endif

#define DEFAULT_RAM (128ull << 20)
#define DEFAULT_TIMEOUT 60u
#define DEFAULT_SEED 1u
#define DEFAULT_CONSOLE_LIMIT (64ull << 20)

/* The core's section of --help; each module adds its own after it. */
static void usage(FILE *f, const char *argv0, const struct vm *vm)
{
	fprintf(f,
		"Usage: %s [OPTIONS] [--] [PROGRAM [ARGS...]]\n"
		"Boot the cowvmm guest kernel in a KVM virtual machine and run PROGRAM in it.\n"
		"PROGRAM and ARGS are joined by spaces into the guest's command line\n"
		"(at most %u bytes); without PROGRAM the guest runs its default demo.\n"
		"\n"
		"Options:\n"
		"  -k, --kernel FILE   guest kernel ELF (default: $COWVMM_KERNEL, else\n"
		"                      <dir of vmm>/../guest/kernel.elf in a build tree,\n"
		"                      else %s/kernel.elf)\n"
		"  -m, --memory SIZE   guest RAM, suffix K, M or G; a multiple of 2M between\n"
		"                      %lluM and %lluG (default 128M)\n"
		"  -t, --timeout SECS  stop a run still going after SECS seconds, the VMM's own\n"
		"                      work included (default %u; 0 = never)\n"
		"      --seed N        seed handed to the guest for anything random (default %u)\n"
		"      --cpus N        virtual CPUs, 1..%u (default 1); vCPU 0 boots, the kernel\n"
		"                      starts the others (HC_CPU_START), each on a host thread;\n"
		"                      audits stop every vCPU first\n"
		"      --console-limit SIZE  guest console output kept (suffix K, M or G;\n"
		"                      default 64M): the rest is dropped, and said once\n"
		"  -q, --quiet         no informational VMM messages (errors are still shown)\n"
		"  -h, --help          show this help and exit\n"
		"  -V, --version       show the version and exit\n"
		"\n"
		"The guest's console goes to standard output; VMM messages go to standard\n"
		"error, prefixed \"vmm: \".\n"
		"\n"
		"Exit status:\n"
		"  0  the guest exited with status 0 (--probe: KVM works)\n"
		"  1  the guest reported failure: nonzero exit status, assertion, audit violation\n"
		"  2  bad command line, or the kernel image is missing or invalid\n"
		"  3  this host cannot run KVM (no /dev/kvm, missing capability, refused state,\n"
		"     or a /dev/kvm that cannot run the guest's user mode: use tools/kvm-run),\n"
		"     or cannot confine the VMM (seccomp filter or file helper: see --no-seccomp)\n"
		"  4  the guest crashed: exception, panic, triple fault, bad hypercall\n"
		"  5  the watchdog stopped the run (--timeout): the guest, or the VMM's own\n"
		"     work (an audit, a report) still going 2 s past the deadline\n"
		"  killed by SIGSYS (a shell says 159): the seccomp filter stopped a system\n"
		"     call the run does not need (see --no-seccomp)\n"
		"\n"
		"Examples:\n"
		"  %s                          run the default demo\n"
		"  %s -m 256M -- ktest-exit 3  run ktest-exit with argument 3: exit status 1\n"
		"  %s --timeout 2 ktest-hang   expect exit status 5\n",
		argv0, COWVMM_CMDLINE_MAX - 1, PKGLIBDIR,
		(unsigned long long)(COWVMM_RAM_MIN >> 20), (unsigned long long)(COWVMM_RAM_MAX >> 30),
		DEFAULT_TIMEOUT, DEFAULT_SEED, COWVMM_MAX_CPUS, argv0, argv0, argv0);
	for (size_t i = 0; i < vm->nmods; i++)
		if (vm->mods[i]->usage)
			vm->mods[i]->usage(f);
}

static int usage_error(const char *argv0, const char *fmt, const char *arg)
{
	fprintf(stderr, "vmm: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '%s --help'.\n", argv0);
	return VMM_EXIT_USAGE;
}

/* "128M", "1G", "4096K", "8388608": bytes, or 0 if malformed/overflowing. */
static uint64_t parse_size(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return 0;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return 0;
	return (uint64_t)v << shift;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		return false;
	*out = v;
	return true;
}

/* Default kernel: $COWVMM_KERNEL, the build tree next to this binary, pkglibdir. */
static const char *default_kernel(char *buf, size_t n)
{
	const char *env = getenv("COWVMM_KERNEL");
	if (env && *env)
		return env;
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len > 0) {
		exe[len] = 0;
		snprintf(buf, n, "%s/../guest/kernel.elf", dirname(exe));
		if (access(buf, R_OK) == 0)
			return buf;
	}
	return PKGLIBDIR "/kernel.elf";
}

/* getopt_long's table: the core's options, then every module's, whose
 * values encode (module, option) as MOD_OPT_BASE + module * 256 + index. */
#define MOD_OPT_BASE 0x10000
enum { OPT_SEED = 0x100, OPT_CPUS, OPT_CONSOLE_LIMIT };
static const struct option core_longopts[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "memory", required_argument, NULL, 'm' },
	{ "timeout", required_argument, NULL, 't' },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "console-limit", required_argument, NULL, OPT_CONSOLE_LIMIT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
};
#define NCORE (sizeof core_longopts / sizeof core_longopts[0])

static struct option *build_longopts(const struct vm *vm)
{
	size_t n = NCORE;
	for (size_t m = 0; m < vm->nmods; m++)
		for (const struct vmm_option *o = vm->mods[m]->options; o && o->name; o++)
			n++;
	struct option *lo = calloc(n + 1, sizeof *lo);
	if (!lo)
		return NULL;
	memcpy(lo, core_longopts, sizeof core_longopts);
	n = NCORE;
	for (size_t m = 0; m < vm->nmods; m++) {
		int k = 0;
		for (const struct vmm_option *o = vm->mods[m]->options; o && o->name; o++, k++)
			lo[n++] = (struct option){ o->name, o->has_arg ? required_argument : no_argument, NULL,
						   MOD_OPT_BASE + (int)m * 256 + k };
	}
	return lo;
}

static int parse_args(int argc, char **argv, struct vm *vm)
{
	struct option *longopts = build_longopts(vm);
	if (!longopts) {
		fprintf(stderr, "vmm: out of memory\n");
		return VMM_EXIT_USAGE;
	}
	uint64_t v;
	int c, st = 0;
	opterr = 0; /* our own messages, with the "vmm: " prefix */
	/* '+': stop at the first non-option, which is the guest program. */
	while (!st && (c = getopt_long(argc, argv, "+k:m:t:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			vm->kernel_path = optarg;
			break;
		case 'm':
			vm->ram_size = parse_size(optarg);
			if (vm->ram_size < COWVMM_RAM_MIN || vm->ram_size > COWVMM_RAM_MAX || vm->ram_size % (2u << 20))
				st = usage_error(argv[0], "invalid memory size '%s' (a multiple of 2M, 4M..3G)", optarg);
			break;
		case 't':
			if (!parse_u64(optarg, &v) || v > 86400)
				st = usage_error(argv[0], "invalid timeout '%s' (seconds, 0..86400)", optarg);
			else
				vm->timeout_s = (unsigned)v;
			break;
		case OPT_SEED:
			if (!parse_u64(optarg, &vm->seed))
				st = usage_error(argv[0], "invalid seed '%s'", optarg);
			break;
		case OPT_CONSOLE_LIMIT:
			vm->console_limit = parse_size(optarg);
			if (!vm->console_limit && strcmp(optarg, "0"))
				st = usage_error(argv[0], "invalid console limit '%s' (bytes, suffix K, M or G)", optarg);
			break;
		case OPT_CPUS:
			if (!parse_u64(optarg, &v) || v < 1 || v > COWVMM_MAX_CPUS)
				st = usage_error(argv[0], "invalid CPU count '%s' (1..16)", optarg);
			else
				vm->ncpus = (unsigned)v;
			break;
		case 'q':
			vm->quiet = true;
			break;
		case 'h':
			usage(stdout, argv[0], vm);
			free(longopts);
			vm_modules_free(vm);
			exit(VMM_EXIT_OK);
		case 'V':
			printf("vmm (%s) %s, guest ABI %u\n", PACKAGE_NAME, PACKAGE_VERSION, COWVMM_ABI_VERSION);
			free(longopts);
			vm_modules_free(vm);
			exit(VMM_EXIT_OK);
		default:
			if (c >= MOD_OPT_BASE && (size_t)(c - MOD_OPT_BASE) / 256 < vm->nmods) {
				const struct vmm_module *m = vm->mods[(c - MOD_OPT_BASE) / 256];
				const struct vmm_option *o = &m->options[(c - MOD_OPT_BASE) % 256];
				st = m->option(vm, o->id, o->has_arg ? optarg : NULL);
				break;
			}
			st = usage_error(argv[0], "unknown option or missing argument: %s", argv[optind - 1]);
		}
	}
	free(longopts);
	if (st)
		return st;
	size_t len = 0;
	for (int i = optind; i < argc; i++) {
		size_t al = strlen(argv[i]);
		size_t need = al + (len ? 1 : 0);
		if (len + need >= sizeof vm->cmdline)
			return usage_error(argv[0], "guest command line too long (at most %s bytes)", "255");
		if (len)
			vm->cmdline[len++] = ' ';
		memcpy(vm->cmdline + len, argv[i], al);
		len += al;
		vm->cmdline[len] = 0;
	}
	return 0;
}

/* Call one stage of every module in order; the first status other than
 * `go_on` ends the stage and is returned. */
#define EACH_MODULE(vm, hook, go_on, ...)                                        \
	({                                                                        \
		int st_ = (go_on);                                                \
		for (size_t i_ = 0; i_ < (vm)->nmods && st_ == (go_on); i_++)    \
			if ((vm)->mods[i_]->hook)                                 \
				st_ = (vm)->mods[i_]->hook(__VA_ARGS__);          \
		st_;                                                              \
	})

int main(int argc, char **argv)
{
	struct vm vm = { .kvm_fd = -1, .vm_fd = -1, .ram_size = DEFAULT_RAM, .timeout_s = DEFAULT_TIMEOUT,
			 .seed = DEFAULT_SEED, .ncpus = 1, .console_limit = DEFAULT_CONSOLE_LIMIT };
	char kbuf[PATH_MAX + 32], err[512];
	/* A closed stdout loses guest output but must not kill the VMM mid-report. */
	signal(SIGPIPE, SIG_IGN);
	if (vm_modules_init(&vm)) {
		fprintf(stderr, "vmm: out of memory\n");
		return VMM_EXIT_USAGE;
	}
	int st = parse_args(argc, argv, &vm);
	if (st)
		goto out;
	st = EACH_MODULE(&vm, start, VMM_CONTINUE, &vm);
	if (st != VMM_CONTINUE)
		goto out;
	if (!vm.kernel_path)
		vm.kernel_path = default_kernel(kbuf, sizeof kbuf);
	int r = gmem_init(&vm.mem, vm.ram_size);
	if (r < 0) {
		fprintf(stderr, "vmm: cannot allocate %" PRIu64 " bytes of guest RAM: %s\n", vm.ram_size,
			strerror(-r));
		st = VMM_EXIT_USAGE;
		goto out;
	}
	/* The image is checked before KVM is touched: a bad image is exit 2 anywhere. */
	if (elf_load_file(vm.kernel_path, &vm.mem, &vm.kernel, err, sizeof err)) {
		fprintf(stderr, "vmm: invalid kernel image: %s\n", err);
		st = VMM_EXIT_USAGE;
		goto out;
	}
	if ((st = kvm_setup(&vm, vm.ncpus, true)))
		goto out;
	boot_setup_memory(&vm);
	for (unsigned i = 0; i < vm.nvcpus; i++)
		boot_setup_vcpu(&vm.vcpus[i], vm.kernel.entry);
	lifecycle_register(&vm);
	cpu_start_register(&vm);
	if ((st = EACH_MODULE(&vm, setup, 0, &vm)))
		goto out;
	struct cowvmm_boot_info *bi = boot_write_info(&vm);
	if ((st = EACH_MODULE(&vm, boot, 0, &vm, bi)))
		goto out;
	watchdog_start(&vm);
	st = vm_run(&vm);
	/* The watchdog bounds the reports too: a hostile guest's tables can make
	 * them long. */
	atomic_store(&vm.wd_handled, true);
	for (size_t i = 0; i < vm.nmods; i++)
		if (vm.mods[i]->finish) {
			vm_busy(&vm, vm.mods[i]->name);
			st = vm.mods[i]->finish(&vm, st);
		}
	vm_busy(&vm, NULL);
	watchdog_stop(&vm);
out:
	fflush(stdout);
	vm_modules_free(&vm);
	kvm_teardown(&vm);
	kimage_free(&vm.kernel);
	gmem_free(&vm.mem);
	return st;
}
