/* vmm/main.c — `vmm` command line: options, kernel lookup, then load, boot and run the guest. */
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

struct opts {
	const char *kernel;
	uint64_t ram;
	unsigned timeout;
	uint64_t seed;
	bool quiet;
	bool probe;
	char cmdline[COWVMM_CMDLINE_MAX];
	struct bench_opts bench; /* --bench* (vmm/bench.c) */
};

static void usage(FILE *f, const char *argv0)
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
		"  -t, --timeout SECS  stop a guest still running after SECS seconds (default %u;\n"
		"                      0 = never)\n"
		"      --seed N        seed handed to the guest for anything random (default %u)\n"
		"  -q, --quiet         no informational VMM messages (errors are still shown)\n"
		"      --inject SPEC   fault injection, repeatable (grammar below)\n"
		"      --bench         timing run (no audits, no dirty logging): run PROGRAM, by\n"
		"                      default cowbench, then print the statistics of the\n"
		"                      samples it sent with HC_BENCH and the VM exits counted\n"
		"                      inside each timed loop\n"
		"      --bench-json FILE  also write the bench report as JSON (implies --bench)\n"
		"      --bench-svg DIR    also draw SVG plots into DIR (implies --bench)\n"
		"      --bench-peer FILE  put tools/linux-peer figures side by side (implies --bench)\n"
		"      --probe         only check that this host's KVM runs a tiny built-in\n"
		"                      long-mode guest (ring 0, ring 3, SYSCALL, hypercall);\n"
		"                      exit 0 if it does, 3 if not\n"
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
		"  3  this host cannot run KVM (no /dev/kvm, missing capability, refused state)\n"
		"  4  the guest crashed: exception, panic, triple fault, bad hypercall\n"
		"  5  the watchdog stopped the guest (--timeout)\n"
		"\n"
		"Examples:\n"
		"  %s                          run the default demo\n"
		"  %s -m 256M -- ktest-exit 3  run ktest-exit with argument 3: exit status 1\n"
		"  %s --timeout 2 ktest-hang   expect exit status 5\n"
		"  %s --probe && echo KVM works\n",
		argv0, COWVMM_CMDLINE_MAX - 1, PKGLIBDIR,
		(unsigned long long)(COWVMM_RAM_MIN >> 20), (unsigned long long)(COWVMM_RAM_MAX >> 30),
		DEFAULT_TIMEOUT, DEFAULT_SEED, argv0, argv0, argv0, argv0);
	fputc('\n', f);
	inject_usage(f);
	inspect_usage(f);
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

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "memory", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "probe", no_argument, NULL, 'P' },
		{ "inject", required_argument, NULL, 'I' },
		{ "bench", no_argument, NULL, 'B' },
		{ "bench-json", required_argument, NULL, 'J' },
		{ "bench-svg", required_argument, NULL, 'G' },
		{ "bench-peer", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		INSPECT_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, r;
	opterr = 0; /* our own messages, with the "vmm: " prefix */
	/* '+': stop at the first non-option, which is the guest program. */
	while ((c = getopt_long(argc, argv, "+k:m:t:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->kernel = optarg;
			break;
		case 'm':
			o->ram = parse_size(optarg);
			if (o->ram < COWVMM_RAM_MIN || o->ram > COWVMM_RAM_MAX || o->ram % (2u << 20))
				return usage_error(argv[0], "invalid memory size '%s' (a multiple of 2M, 4M..3G)", optarg);
			break;
		case 't':
			if (!parse_u64(optarg, &v) || v > 86400)
				return usage_error(argv[0], "invalid timeout '%s' (seconds, 0..86400)", optarg);
			o->timeout = (unsigned)v;
			break;
		case 'S':
			if (!parse_u64(optarg, &o->seed))
				return usage_error(argv[0], "invalid seed '%s'", optarg);
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'P':
			o->probe = true;
			break;
		case 'I': {
			char why[256];
			if (inject_parse(&inject_run, optarg, why, sizeof why))
				return usage_error(argv[0], "%s", why);
			break;
		}
		case 'B': case 'J': case 'G': case 'L':
			o->bench.enabled = true;
			if (c == 'J')
				o->bench.json_path = optarg;
			else if (c == 'G')
				o->bench.svg_dir = optarg;
			else if (c == 'L')
				o->bench.peer_path = optarg;
			break;
		case 'h':
			usage(stdout, argv[0]);
			exit(VMM_EXIT_OK);
		case 'V':
			printf("vmm (%s) %s, guest ABI %u\n", PACKAGE_NAME, PACKAGE_VERSION, COWVMM_ABI_VERSION);
			exit(VMM_EXIT_OK);
		default:
			if ((r = inspect_option(c, optarg)) >= 0) {
				if (r)
					return r;
				break;
			}
			return usage_error(argv[0], "unknown option or missing argument: %s",
					   argv[optind - 1]);
		}
	}
	size_t len = 0;
	for (int i = optind; i < argc; i++) {
		size_t al = strlen(argv[i]);
		size_t need = al + (len ? 1 : 0);
		if (len + need >= sizeof o->cmdline)
			return usage_error(argv[0], "guest command line too long (at most %s bytes)",
					   "255");
		if (len)
			o->cmdline[len++] = ' ';
		memcpy(o->cmdline + len, argv[i], al);
		len += al;
		o->cmdline[len] = 0;
	}
	if (o->bench.enabled && !len)
		strcpy(o->cmdline, "cowbench");
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .ram = DEFAULT_RAM, .timeout = DEFAULT_TIMEOUT, .seed = DEFAULT_SEED };
	char kbuf[PATH_MAX + 32], err[512];
	int st = parse_args(argc, argv, &o);
	if (st)
		return st;
	/* A closed stdout loses guest output but must not kill the VMM mid-report. */
	signal(SIGPIPE, SIG_IGN);
	if (o.probe)
		return probe_run();
	if (!o.kernel)
		o.kernel = default_kernel(kbuf, sizeof kbuf);

	struct vm vm = { .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1, .quiet = o.quiet,
			 .timeout_s = o.timeout };
	int r = gmem_init(&vm.mem, o.ram);
	if (r < 0) {
		fprintf(stderr, "vmm: cannot allocate %" PRIu64 " bytes of guest RAM: %s\n", o.ram,
			strerror(-r));
		return VMM_EXIT_USAGE;
	}
	/* The image is checked before KVM is touched: a bad image is exit 2 anywhere. */
	if (elf_load_file(o.kernel, &vm.mem, &vm.kernel, err, sizeof err)) {
		fprintf(stderr, "vmm: invalid kernel image: %s\n", err);
		st = VMM_EXIT_USAGE;
		goto out;
	}
	st = kvm_setup(&vm);
	if (st)
		goto out;
	boot_setup_cpu(&vm, vm.kernel.entry);
	bench_setup(&vm, &o.bench);
	/* A timing run: no checkpoints in timed loops (and no dirty logging). */
	boot_write_info(&vm, o.seed, (o.bench.enabled ? COWVMM_BOOT_F_BENCH : 0) | inspect_boot_flags(o.bench.enabled),
			o.cmdline);
	st = inject_install(&vm, o.seed);
	if (st)
		goto out;
	watchdog_start(&vm, o.timeout);
	st = vm_run(&vm);
	watchdog_stop();
	inject_report(&vm);
	st = inspect_finish(&vm, st);
	if (o.bench.enabled) {
		fflush(stdout);
		int bst = bench_finish(&vm, stdout);
		if (!st)
			st = bst;
	}
out:
	fflush(stdout);
	kvm_teardown(&vm);
	kimage_free(&vm.kernel);
	gmem_free(&vm.mem);
	return st;
}
