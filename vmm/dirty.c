/* vmm/dirty.c — the dirty-log module: KVM dirty logging on guest RAM, armed at a COW fault and judged at its end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "dirty.h"
#include "inspect.h"
#include "mutate.h"
#include "vmm.h"

/* MSR_KVM_WALL_CLOCK_NEW: writing it makes KVM itself store the 12-byte
 * pvclock wall clock at the given guest-physical address. */
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00u

enum dl_state { DL_OFF, DL_ON, DL_FAILED };

struct dirty_state {
	bool no_dirty;         /* --no-dirty-log */
	enum dl_state state;
	char why[120];         /* why dirty logging is off or stopped */
	bool armed;            /* the log was reset at a CP_COW_BEFORE */
	uint64_t checked, cow_faults;
	uint64_t *bitmap;
	uint64_t nbits;
};

static const struct vmm_module dirty_module;

static struct dirty_state *st(const struct vm *vm)
{
	return vm_state(vm, &dirty_module);
}

/* Memslot 0 again, same range, with KVM_MEM_LOG_DIRTY_PAGES: KVM allows
 * changing only the flags of an existing slot. */
static int dirty_enable(struct vm *vm)
{
	struct dirty_state *d = st(vm);
	uint64_t nbits = vm->mem.size / COWVMM_PAGE_SIZE;
	uint64_t *bm = calloc((nbits + 63) / 64, 8);
	if (!bm)
		return -ENOMEM;
	struct kvm_userspace_memory_region slot = {
		.slot = 0,
		.flags = KVM_MEM_LOG_DIRTY_PAGES,
		.guest_phys_addr = 0,
		.memory_size = vm->mem.size,
		.userspace_addr = (uint64_t)(uintptr_t)vm->mem.base,
	};
	int r = kvm_try(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot);
	if (r < 0) {
		free(bm);
		return r;
	}
	free(d->bitmap);
	d->bitmap = bm;
	d->nbits = nbits;
	return 0;
}

/* KVM_GET_DIRTY_LOG: the frames written since the last fetch (1 bit each),
 * or NULL (and dirty logging off for the rest of the run). */
static const uint64_t *dirty_fetch(struct vm *vm, uint64_t *nbits)
{
	struct dirty_state *d = st(vm);
	if (d->state != DL_ON)
		return NULL;
	memset(d->bitmap, 0, (d->nbits + 63) / 64 * 8);
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = d->bitmap };
	int r = kvm_try(vm->vm_fd, KVM_GET_DIRTY_LOG, &log);
	if (r < 0) {
		d->state = DL_FAILED;
		snprintf(d->why, sizeof d->why, "KVM_GET_DIRTY_LOG failed: %s", strerror(-r));
		vm_note(vm, "audit: %s; dirty logging stopped", d->why);
		return NULL;
	}
	*nbits = d->nbits;
	return d->bitmap;
}

/* KVM's own writes to guest memory go into the dirty log (ours through the
 * host mapping do not): let KVM write the wall clock at gpa, then put the 12
 * bytes back through the host mapping, so the page's contents are unchanged
 * and only the dirty log can tell it was written.  0 or -errno. */
static int dirty_kvm_write(struct vcpu *v, uint64_t gpa)
{
	uint8_t save[12];
	uint8_t *p = gmem_ptr(&v->vm->mem, gpa, sizeof save);
	if (!p || gpa % 4)
		return -EINVAL;
	memcpy(save, p, sizeof save);
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = { .h = { .nmsrs = 1 }, .e = { .index = MSR_KVM_WALL_CLOCK_NEW, .data = gpa } };
	int r = kvm_try(v->fd, KVM_SET_MSRS, &m);
	memcpy(p, save, sizeof save);
	if (r < 0)
		return r;
	return r == 1 ? 0 : -EPERM;
}

void dirty_start(struct vm *vm)
{
	struct dirty_state *d = st(vm);
	if (d->why[0])
		return; /* off by option or by a timing run */
	int r = dirty_enable(vm);
	d->state = r ? DL_FAILED : DL_ON;
	if (r)
		snprintf(d->why, sizeof d->why, "KVM_MEM_LOG_DIRTY_PAGES refused: %s", strerror(-r));
}

const uint64_t *dirty_before_audit(struct vm *vm, const struct cowvmm_hc_inspect *cp, uint64_t *nbits)
{
	struct dirty_state *d = st(vm);
	const uint64_t *bm = NULL;
	if (cp->checkpoint == COWVMM_CP_COW_AFTER && d->armed) {
		bm = dirty_fetch(vm, nbits);
		if (bm)
			d->checked++;
	}
	d->armed = false;
	return bm;
}

/* At CP_COW_BEFORE, last thing before the guest resolves the fault: reset the
 * log, so CP_COW_AFTER sees exactly what the resolution wrote.  A reset makes
 * KVM write-protect again every page written since the last one, and each of
 * those costs the guest a page fault into KVM on its next write (about 8 per
 * COW fault: ~7 ms each time under QEMU/TCG), so the log is checked at the
 * first COW fault and then at every Nth (N = --audit-full-every); between
 * two checks it is left alone and costs nothing.  --mutate dirty-old strikes
 * at the first checked fault that will copy (and keeps faults checked until
 * it has). */
void dirty_arm(struct vcpu *v, const struct audit *a)
{
	struct vm *vm = v->vm;
	struct dirty_state *d = st(vm);
	uint64_t nbits;
	bool pending = mutate_pending(vm, "dirty-old");
	bool due = d->cow_faults++ % inspect_full_every(vm) == 0 || pending;
	if (!due || d->state != DL_ON || !dirty_fetch(vm, &nbits))
		return;
	d->armed = true;
	int32_t pid, sharer;
	uint64_t va, frame;
	if (pending && audit_cow_before(a, &pid, &va, &frame, &sharer) && sharer) {
		int r = dirty_kvm_write(v, frame * COWVMM_PAGE_SIZE);
		if (r) {
			vm_note(vm, "mutate: dirty-old: KVM refused to write guest memory: %s", strerror(-r));
		} else {
			mutate_done(vm);
			vm_note(vm, "mutate: had KVM write the shared old frame 0x%llx of pid %d's COW fault at 0x%llx "
				"(12 bytes, restored)", (unsigned long long)frame, pid, (unsigned long long)va);
		}
	}
}

static const char *const dl_names[] = { "off", "on", "failed" };

void dirty_summary(const struct vm *vm)
{
	const struct dirty_state *d = st(vm);
	unsigned every = inspect_full_every(vm);
	if (d->state == DL_ON)
		fprintf(stderr, "vmm: dirty log: checked at %llu of %llu COW fault(s) (the first and every %uth)\n",
			(unsigned long long)d->checked, (unsigned long long)d->cow_faults, every);
	else
		fprintf(stderr, "vmm: dirty log: %s (%s)\n", dl_names[d->state], d->why);
}

void dirty_info(const struct vm *vm, const char **state, const char **why, uint64_t *checked)
{
	const struct dirty_state *d = st(vm);
	*state = dl_names[d->state];
	*why = d->why;
	*checked = d->checked;
}

/* ---- the module --------------------------------------------------------- */

static const struct vmm_option dirty_options[] = {
	{ "no-dirty-log", false, 0 },
	{ NULL, false, 0 },
};

static int dirty_option(struct vm *vm, int id, const char *arg)
{
	(void)id;
	(void)arg;
	st(vm)->no_dirty = true;
	return 0;
}

static void dirty_usage(FILE *f)
{
	fprintf(f,
		"      --no-dirty-log    no KVM dirty logging (by default, audited runs log\n"
		"                        dirty pages and check that a COW fault wrote the\n"
		"                        new frame and the PTE's table, never the old frame)\n");
}

/* Never with a timing run: each reset costs the guest page faults into KVM. */
static int dirty_setup(struct vm *vm)
{
	struct dirty_state *d = st(vm);
	bool bench = vm->boot_flags & COWVMM_BOOT_F_BENCH;
	if (bench || d->no_dirty)
		snprintf(d->why, sizeof d->why, "%s", bench ? "timing run (--bench)" : "--no-dirty-log");
	return 0;
}

static void dirty_teardown(struct vm *vm)
{
	struct dirty_state *d = st(vm);
	free(d->bitmap);
	d->bitmap = NULL;
}

static const struct vmm_module dirty_module = {
	.name = "dirty",
	.order = 21,
	.state_size = sizeof(struct dirty_state),
	.options = dirty_options,
	.usage = dirty_usage,
	.option = dirty_option,
	.setup = dirty_setup,
	.teardown = dirty_teardown,
};
VMM_MODULE(dirty_module);
