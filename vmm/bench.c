/* vmm/bench.c — HC_BENCH: timed-loop bracketing with KVM exit counting, and collection of guest samples. */
/*
 * Protocol (abi.h, struct cowvmm_hc_bench):
 *   phase 0  a timed loop begins;  count = event | (uint64)arg << 32 labels it
 *   phase 1  the loop ends (same label)
 *   phase 2  samples_gpa/count: struct cowvmm_sample[count], copied out at once
 *            (may be sent more than once; the batches are appended)
 * At phase 0 and phase 1 the VMM reads every vCPU's binary statistics and
 * the guest's counters.  The phase-0 exit is already counted when we read
 * (KVM bumps "exits" before handing the exit to user space) and the phase-1
 * exit is counted in the second read, so a loop with nothing inside shows
 * exactly one exit, one of them an I/O exit: exits_inside = Δexits - 1, the
 * one being the phase-1 vCPU's.  The other vCPUs' exits (an idle one's HLT
 * at each timer tick, the IPIs of a shootdown) are all inside: each vCPU's
 * are kept apart as well as summed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "bench.h"
#include "cowvmm/names.h"
#include "books.h"
#include "vmm.h"

/* Sanity bound on what one guest may make us copy (64 MiB of samples). */
#define BENCH_MAX_SAMPLES (1u << 22)
#define BENCH_MAX_LOOPS (1u << 16)

static const struct vmm_module bench_module;

static struct bench_state *st(const struct vm *vm)
{
	return vm_state(vm, &bench_module);
}

static const char *const ks_names[KS_COUNT] = {
	[KS_EXITS] = "exits", [KS_IO] = "io_exits", [KS_MMIO] = "mmio_exits",
	[KS_HALT] = "halt_exits", [KS_IRQ] = "irq_exits", [KS_SIGNAL] = "signal_exits",
	[KS_IRQ_WINDOW] = "irq_window_exits", [KS_REQUEST_IRQ] = "request_irq_exits",
	[KS_NMI_WINDOW] = "nmi_window_exits", [KS_PF_GUEST] = "pf_guest",
	/* Not exits themselves, but what an exit was for: a stage-2 (NPT/EPT)
	 * fault KVM handled, an instruction it emulated. */
	[KS_PF_TAKEN] = "pf_taken", [KS_INSN_EMUL] = "insn_emulation",
};


const char *bench_event_name(uint32_t ev)
{
	return cowvmm_bench_event_name(ev);
}

uint32_t bench_event_by_name(const char *s)
{
	for (uint32_t i = 0; i < COWVMM_EV_COUNT; i++)
		if (!strcmp(s, cowvmm_bench_event_name(i)))
			return i;
	return COWVMM_EV_COUNT;
}

double bench_ns(const struct bench_state *b, uint64_t ticks)
{
	return b->tsc_khz ? (double)ticks * 1e6 / (double)b->tsc_khz : -1.0;
}

/* Find each followed statistic among the fd's descriptors, by name.  Only
 * plain cumulative u64 counters are used. */
static int stats_open(struct bench_state *b, struct vcpu *v)
{
	int fd = kvm_try(v->fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0) {
		snprintf(b->stats_why, sizeof b->stats_why,
			 "KVM_GET_STATS_FD unsupported by this host's KVM (%s)", strerror(-fd));
		return -1;
	}
	struct kvm_stats_header h;
	if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || h.num_desc == 0 ||
	    h.num_desc > 4096 || h.name_size == 0 || h.name_size > 4096) {
		snprintf(b->stats_why, sizeof b->stats_why, "KVM stats header unreadable");
		close(fd);
		return -1;
	}
	size_t dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	char *d = malloc(dsz * h.num_desc);
	if (!d || pread(fd, d, dsz * h.num_desc, h.desc_offset) != (ssize_t)(dsz * h.num_desc)) {
		snprintf(b->stats_why, sizeof b->stats_why, "KVM stats descriptors unreadable");
		free(d);
		close(fd);
		return -1;
	}
	for (uint32_t i = 0; i < h.num_desc; i++) {
		const struct kvm_stats_desc *x = (const void *)(d + i * dsz);
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)(h.name_size < 255 ? h.name_size : 255), x->name);
		if ((x->flags & KVM_STATS_TYPE_MASK) != KVM_STATS_TYPE_CUMULATIVE || x->size != 1)
			continue;
		for (int k = 0; k < KS_COUNT; k++)
			if (!strcmp(name, ks_names[k])) {
				b->ks[k].have = true;
				b->ks[k].offset = h.data_offset + x->offset;
			}
	}
	free(d);
	if (!b->ks[KS_EXITS].have) {
		snprintf(b->stats_why, sizeof b->stats_why, "KVM statistics have no \"exits\" counter");
		close(fd);
		return -1;
	}
	v->stats_fd = fd;
	b->have_stats = true;
	return 0;
}

/* Read every followed statistic (0 for those absent) of every vCPU.  A
 * vCPU the guest has not started yet reads as it is: all zero. */
static int stats_read(const struct bench_state *b, const struct vm *vm, uint64_t v[][KS_COUNT])
{
	for (unsigned i = 0; i < b->ncpus; i++) {
		const struct vcpu *vc = &vm->vcpus[i];
		for (int k = 0; k < KS_COUNT; k++) {
			v[i][k] = 0;
			if (vc->stats_fd >= 0 && b->ks[k].have &&
			    pread(vc->stats_fd, &v[i][k], sizeof v[i][k], (off_t)b->ks[k].offset) != sizeof v[i][k])
				return -1;
		}
	}
	return 0;
}

/* The guest's counters (struct cowvmm_guest_stats), once HC_DESCRIBE said where. */
static bool guest_stats(const struct vm *vm, struct cowvmm_guest_stats *g)
{
	const struct books *bk = vm_books(vm);
	if (!bk->valid)
		return false;
	const void *p = gmem_ptr(&vm->mem, bk->d.stats_gpa, sizeof *g);
	if (!p)
		return false;
	memcpy(g, p, sizeof *g);
	return true;
}

static int loop_begin(struct vcpu *v, uint32_t ev, uint32_t arg)
{
	struct bench_state *b = st(v->vm);
	if (b->open)
		return vm_guest_error(v, "HC_BENCH phase 0 while loop %s/%u is still open",
				      bench_event_name(b->open_event), b->open_arg);
	if (ev >= COWVMM_EV_COUNT)
		return vm_guest_error(v, "HC_BENCH phase 0 names event %u (only %u exist)", ev,
				      (unsigned)COWVMM_EV_COUNT);
	b->open = true;
	b->open_event = ev;
	b->open_arg = arg;
	b->open_cpu = v->id;
	b->have_g0 = guest_stats(v->vm, &b->g0);
	if (stats_read(b, v->vm, b->k0) != 0)
		return vm_guest_error(v, "reading KVM statistics failed: %s", strerror(errno));
	return VMM_CONTINUE;
}

static int loop_end(struct vcpu *v, uint32_t ev, uint32_t arg)
{
	struct bench_state *b = st(v->vm);
	uint64_t k1[COWVMM_MAX_CPUS][KS_COUNT];
	/* Read the KVM counters first: nothing of ours should count inside. */
	if (stats_read(b, v->vm, k1) != 0)
		return vm_guest_error(v, "reading KVM statistics failed: %s", strerror(errno));
	if (!b->open)
		return vm_guest_error(v, "HC_BENCH phase 1 without phase 0");
	b->open = false;
	if (b->nloops == BENCH_MAX_LOOPS)
		return vm_guest_error(v, "more than %u timed loops", BENCH_MAX_LOOPS);
	if (b->nloops == b->caploops) {
		size_t cap = b->caploops ? 2 * b->caploops : 64;
		void *p = realloc(b->loops, cap * sizeof *b->loops);
		if (!p)
			return vm_guest_error(v, "out of host memory for loop records");
		b->loops = p;
		b->caploops = cap;
	}
	struct bench_loop *l = &b->loops[b->nloops++];
	memset(l, 0, sizeof *l);
	l->event = b->open_event;
	l->arg = b->open_arg;
	l->label_mismatch = ev != b->open_event || arg != b->open_arg;
	l->begin_cpu = b->open_cpu;
	l->end_cpu = v->id;
	for (unsigned i = 0; i < b->ncpus; i++) {
		for (int k = 0; k < KS_COUNT; k++)
			l->kd[k] += (int64_t)(k1[i][k] - b->k0[i][k]);
		l->exits_cpu[i] = (int64_t)(k1[i][KS_EXITS] - b->k0[i][KS_EXITS]) - (i == v->id);
	}
	struct cowvmm_guest_stats g1;
	l->have_g = b->have_g0 && guest_stats(v->vm, &g1);
	if (l->have_g) {
		const uint64_t *a = (const uint64_t *)&b->g0, *c = (const uint64_t *)&g1;
		uint64_t *d = (uint64_t *)&l->gd;
		for (size_t i = 0; i < sizeof g1 / sizeof(uint64_t); i++)
			d[i] = c[i] - a[i];
	}
	return VMM_CONTINUE;
}

/* Copy a batch of samples out of guest RAM now: the guest may reuse the buffer. */
static int take_samples(struct vcpu *v, uint64_t gpa, uint64_t count)
{
	struct bench_state *b = st(v->vm);
	/* count is bounded first: the sum, and count x 16 bytes below, cannot wrap. */
	if (count > BENCH_MAX_SAMPLES || b->nsamples + count > BENCH_MAX_SAMPLES)
		return vm_guest_error(v, "HC_BENCH: %llu samples exceed the limit of %u",
				      (unsigned long long)(b->nsamples + count), BENCH_MAX_SAMPLES);
	const struct cowvmm_sample *src = gmem_ptr(&v->vm->mem, gpa, count * sizeof *src);
	if (!src)
		return vm_guest_error(v, "HC_BENCH: samples [%#llx, +%llu x %zu) outside guest RAM",
				      (unsigned long long)gpa, (unsigned long long)count, sizeof *src);
	if (b->nsamples + count > b->capsamples) {
		size_t cap = b->nsamples + count;
		void *p = realloc(b->samples, cap * sizeof *b->samples);
		if (!p && cap)
			return vm_guest_error(v, "out of host memory for %zu samples", cap);
		b->samples = p;
		b->capsamples = cap;
	}
	for (uint64_t i = 0; i < count; i++) {
		struct cowvmm_sample s = src[i];
		if (s.event >= COWVMM_EV_COUNT)
			return vm_guest_error(v, "HC_BENCH: sample %llu has event %u",
					      (unsigned long long)i, s.event);
		b->samples[b->nsamples++] = s;
	}
	b->submits++;
	return VMM_CONTINUE;
}

static int hc_bench(struct vcpu *v, void *argp)
{
	struct bench_state *b = st(v->vm);
	const struct cowvmm_hc_bench *arg = argp;
	struct cowvmm_hc_bench a = *arg; /* one read of the hostile fields */
	uint32_t ev = (uint32_t)a.count, n = (uint32_t)(a.count >> 32);
	int r;
	pthread_mutex_lock(&b->lock);
	switch (a.phase) {
	case 0: r = loop_begin(v, ev, n); break;
	case 1: r = loop_end(v, ev, n); break;
	case 2: r = take_samples(v, a.samples_gpa, a.count); break;
	default: r = vm_guest_error(v, "HC_BENCH phase %u", a.phase); break;
	}
	pthread_mutex_unlock(&b->lock);
	return r;
}

/* ---- the module -------------------------------------------------------------- */

enum { O_BENCH, O_JSON, O_SVG, O_PEER };

static const struct vmm_option bench_options[] = {
	{ "bench", false, O_BENCH },
	{ "bench-json", true, O_JSON },
	{ "bench-svg", true, O_SVG },
	{ "bench-peer", true, O_PEER },
	{ NULL, false, 0 },
};

/* Every --bench* option makes a timing run: the boot flag says so at once,
 * so other modules' setup (audit, dirty log) sees it. */
static int bench_option(struct vm *vm, int id, const char *arg)
{
	struct bench_opts *o = &st(vm)->o;
	o->enabled = true;
	vm->boot_flags |= COWVMM_BOOT_F_BENCH;
	int r = 0;
	if (id == O_JSON) {
		o->json_path = arg;
		r = out_allow(&vm->files, arg, OUT_FILE);
	} else if (id == O_SVG) {
		o->svg_dir = arg;
		r = out_allow(&vm->files, arg, OUT_DIR);
	} else if (id == O_PEER) {
		o->peer_path = arg;
	}
	if (r) {
		fprintf(stderr, "vmm: %s: more than %d output files and directories\nTry 'vmm --help'.\n", arg,
			OUT_MAX);
		return VMM_EXIT_USAGE;
	}
	return 0;
}

static void bench_usage(FILE *f)
{
	fprintf(f,
		"\n"
		"Timing (--bench):\n"
		"      --bench         timing run (no audits, no dirty logging): run PROGRAM, by\n"
		"                      default cowbench, then print the statistics of the\n"
		"                      samples it sent with HC_BENCH and the VM exits counted\n"
		"                      inside each timed loop\n"
		"      --bench-json FILE  also write the bench report as JSON (implies --bench)\n"
		"      --bench-svg DIR    also draw SVG plots into DIR (implies --bench)\n"
		"      --bench-peer FILE  put tools/linux-peer figures side by side (implies --bench)\n");
}

/* Read the TSC rate, open the vCPUs' statistics (when they cannot be opened
 * and --bench is on, say so: the report then says exits were NOT MEASURED),
 * read the peer's figures, and default to cowbench.  Output files go
 * through vm->files (the helper, once the seccomp filter is on). */
static int bench_setup(struct vm *vm)
{
	struct bench_state *b = st(vm);
	b->files = &vm->files;
	if (b->o.peer_path && bench_load_peer(b, b->o.peer_path) != 0)
		return VMM_EXIT_USAGE;
	for (int k = 0; k < KS_COUNT; k++)
		b->ks[k].name = ks_names[k];
	int khz = vm->cap.tsc_khz ? kvm_try(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, NULL) : -ENOTSUP;
	b->tsc_khz = khz > 0 ? (uint64_t)khz : 0;
	b->ncpus = vm->nvcpus;
	pthread_mutex_init(&b->lock, NULL);
	b->have_lock = true;
	bool ok = true;
	for (unsigned i = 0; i < vm->nvcpus && ok; i++)
		ok = stats_open(b, &vm->vcpus[i]) == 0;
	/* Every vCPU's or none: a sum over some of them would under-count. */
	b->have_stats = ok;
	if (!ok && b->o.enabled)
		fprintf(stderr, "vmm: bench: %s: exits inside timed loops cannot be counted\n", b->stats_why);
	if (b->o.enabled && !vm->cmdline[0])
		snprintf(vm->cmdline, sizeof vm->cmdline, "cowbench");
	vm_register_hypercall(vm, COWVMM_HC_BENCH, sizeof(struct cowvmm_hc_bench), hc_bench);
	return 0;
}

static int bench_finish(struct vm *vm, int status)
{
	struct bench_state *b = st(vm);
	if (!b->o.enabled)
		return status;
	fflush(stdout);
	int bst = bench_report(b, stdout);
	return status ? status : bst;
}

static void bench_teardown(struct vm *vm)
{
	struct bench_state *b = st(vm);
	bench_free(b);
	if (b->have_lock)
		pthread_mutex_destroy(&b->lock);
	b->have_lock = false;
}

static const struct vmm_module bench_module = {
	.name = "bench",
	.order = 40,
	.state_size = sizeof(struct bench_state),
	.options = bench_options,
	.usage = bench_usage,
	.option = bench_option,
	.setup = bench_setup,
	.finish = bench_finish,
	.teardown = bench_teardown,
};
VMM_MODULE(bench_module);
