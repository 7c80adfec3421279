/* vmm/dirty.c — KVM dirty logging on guest RAM for verification runs: enable it, fetch (and reset) the log, have KVM write a page. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "vmm.h"

/* MSR_KVM_WALL_CLOCK_NEW: writing it makes KVM itself store the 12-byte
 * pvclock wall clock at the given guest-physical address. */
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00u

static struct {
	uint64_t *bitmap;
	uint64_t nbits;
} D;

/* Memslot 0 again, same range, with KVM_MEM_LOG_DIRTY_PAGES: KVM allows
 * changing only the flags of an existing slot. */
int dirty_enable(struct vm *vm)
{
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
	free(D.bitmap);
	D.bitmap = bm;
	D.nbits = nbits;
	return 0;
}

const uint64_t *dirty_fetch(struct vm *vm, uint64_t *nbits, int *err)
{
	if (!D.bitmap) {
		*err = -EINVAL;
		return NULL;
	}
	memset(D.bitmap, 0, (D.nbits + 63) / 64 * 8);
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = D.bitmap };
	int r = kvm_try(vm->vm_fd, KVM_GET_DIRTY_LOG, &log);
	if (r < 0) {
		*err = r;
		return NULL;
	}
	*nbits = D.nbits;
	return D.bitmap;
}

/* KVM's own writes to guest memory go into the dirty log (ours through the
 * host mapping do not): let KVM write the wall clock at gpa, then put the 12
 * bytes back through the host mapping, so the page's contents are unchanged
 * and only the dirty log can tell it was written. */
int dirty_kvm_write(struct vm *vm, uint64_t gpa)
{
	uint8_t save[12];
	uint8_t *p = gmem_ptr(&vm->mem, gpa, sizeof save);
	if (!p || gpa % 4)
		return -EINVAL;
	memcpy(save, p, sizeof save);
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = { .h = { .nmsrs = 1 }, .e = { .index = MSR_KVM_WALL_CLOCK_NEW, .data = gpa } };
	int r = kvm_try(vm->vcpu_fd, KVM_SET_MSRS, &m);
	memcpy(p, save, sizeof save);
	if (r < 0)
		return r;
	return r == 1 ? 0 : -EPERM;
}

void dirty_free(void)
{
	free(D.bitmap);
	D.bitmap = NULL;
}
