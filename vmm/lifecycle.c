/* vmm/lifecycle.c — the core's own hypercalls: console output, exit, assertion failure and crash reports. */
#include <stdio.h>
#include <string.h>

#include "cowvmm/names.h"
#include "vmm.h"

/* ---- console / exit / assert ------------------------------------------- */

static int hc_console(struct vcpu *v, void *argp)
{
	struct cowvmm_hc_console a;
	memcpy(&a, argp, sizeof a);
	if (a.len > COWVMM_CONSOLE_MAX)
		return vm_guest_error(v, "hypercall CONSOLE: length %llu exceeds %u",
				      (unsigned long long)a.len, COWVMM_CONSOLE_MAX);
	const void *buf = gmem_ptr(&v->vm->mem, a.buf_gpa, a.len);
	if (!buf)
		return vm_guest_error(v, "hypercall CONSOLE: bad buffer address 0x%llx (length %llu)",
				      (unsigned long long)a.buf_gpa, (unsigned long long)a.len);
	/* A guest printing in a loop must not fill the disk: past --console-limit
	 * the rest is dropped, and said once. */
	struct vm *vm = v->vm;
	uint64_t room = vm->console_limit > vm->console_written ? vm->console_limit - vm->console_written : 0;
	uint64_t n = a.len < room ? a.len : room;
	fwrite(buf, 1, n, stdout);
	fflush(stdout);
	vm->console_written += n;
	if (n < a.len && !vm->console_truncated) {
		vm->console_truncated = true;
		fprintf(stderr, "vmm: console: %llu bytes written, the limit (--console-limit); the rest is dropped\n",
			(unsigned long long)vm->console_limit);
	}
	return VMM_CONTINUE;
}

static int hc_exit(struct vcpu *v, void *argp)
{
	struct cowvmm_hc_exit a;
	memcpy(&a, argp, sizeof a);
	fflush(stdout);
	if (a.status == 0) {
		vm_note(v->vm, "guest exited with status 0");
		return VMM_EXIT_OK;
	}
	fprintf(stderr, "vmm: guest exited with status %llu\n", (unsigned long long)a.status);
	return VMM_EXIT_GUEST_FAIL;
}

/* Read an optional guest string; "?" and false if the address is bad. */
static bool guest_str(const struct vm *vm, uint64_t gpa, char *out, size_t n)
{
	if (gmem_read_str(&vm->mem, gpa, out, n) >= 0) {
		/* Hostile bytes never reach the terminal: no escape sequences. */
		for (char *c = out; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				*c = '?';
		return true;
	}
	snprintf(out, n, "?");
	return false;
}

static int hc_assert(struct vcpu *v, void *argp)
{
	struct cowvmm_hc_assert a;
	char file[COWVMM_STRING_MAX], expr[COWVMM_STRING_MAX];
	memcpy(&a, argp, sizeof a);
	if (!guest_str(v->vm, a.file_gpa, file, sizeof file))
		return vm_guest_error(v, "hypercall ASSERT: bad file string address 0x%llx",
				      (unsigned long long)a.file_gpa);
	if (!guest_str(v->vm, a.expr_gpa, expr, sizeof expr))
		return vm_guest_error(v, "hypercall ASSERT: bad expression string address 0x%llx",
				      (unsigned long long)a.expr_gpa);
	fflush(stdout);
	fprintf(stderr, "vmm: guest assertion failed: %s:%llu: %s\n", file,
		(unsigned long long)a.line, expr);
	return VMM_EXIT_GUEST_FAIL;
}

/* ---- crash ------------------------------------------------------------- */

static void print_guest_regs(struct vcpu *v, const struct cowvmm_regs *r)
{
	char sym[160];
	fprintf(stderr, "vmm: RIP: 0x%016llx <%s>\n", (unsigned long long)r->rip,
		sym_lookup(&v->vm->kernel, r->rip, sym, sizeof sym));
#define R(x) (unsigned long long)r->x
	fprintf(stderr, "vmm: RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", R(rax), R(rbx), R(rcx), R(rdx));
	fprintf(stderr, "vmm: RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n", R(rsi), R(rdi), R(rbp), R(rsp));
	fprintf(stderr, "vmm: R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n", R(r8), R(r9), R(r10), R(r11));
	fprintf(stderr, "vmm: R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n", R(r12), R(r13), R(r14), R(r15));
	fprintf(stderr, "vmm: RFLAGS=%016llx CS=%04llx SS=%04llx\n", R(rflags), R(cs), R(ss));
	fprintf(stderr, "vmm: CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx\n", R(cr0), R(cr2), R(cr3), R(cr4));
#undef R
	dump_code(v, r->rip);
}

static int hc_crash(struct vcpu *v, void *argp)
{
	struct cowvmm_hc_crash a;
	char file[COWVMM_STRING_MAX], msg[COWVMM_STRING_MAX], sym[160];
	memcpy(&a, argp, sizeof a);
	if (a.kind == COWVMM_CRASH_HOST_NO_USER_MODE) {
		/* Not the guest's fault, nor the program's: say what to do, once. */
		fflush(stdout);
		fprintf(stderr, "vmm: this host's /dev/kvm cannot run the guest's user mode (SYSCALL from ring 3 "
			"entered the kernel still in ring 3, as on a PVM-style KVM); run it in the emulated "
			"environment instead: tools/kvm-run -- vmm/vmm ..., or make run\n");
		return VMM_EXIT_NO_KVM;
	}
	bool have_file = a.file_gpa && guest_str(v->vm, a.file_gpa, file, sizeof file);
	bool have_msg = a.msg_gpa && guest_str(v->vm, a.msg_gpa, msg, sizeof msg);
	fflush(stdout);
	if (a.kind == COWVMM_CRASH_EXCEPTION) {
		const char *name = cowvmm_vector_name(a.vector);
		fprintf(stderr, "vmm: guest crashed: %s (vector %u) at <%s>, error code 0x%llx, CR2 0x%llx, pid %llu\n",
			name, a.vector, sym_lookup(&v->vm->kernel, a.regs.rip, sym, sizeof sym),
			(unsigned long long)a.error_code, (unsigned long long)a.regs.cr2,
			(unsigned long long)a.pid);
		if (have_msg)
			fprintf(stderr, "vmm: %s%s%s\n", have_file ? file : "", have_file ? ": " : "", msg);
	} else if (a.kind == COWVMM_CRASH_PANIC) {
		fprintf(stderr, "vmm: guest panic at %s:%llu: %s (pid %llu)\n",
			have_file ? file : "?", (unsigned long long)a.line, have_msg ? msg : "?",
			(unsigned long long)a.pid);
	} else {
		fprintf(stderr, "vmm: guest crashed: unknown crash kind %u\n", a.kind);
	}
	print_guest_regs(v, &a.regs);
	dump_other_vcpus(v);
	return VMM_EXIT_CRASH;
}

void lifecycle_register(struct vm *vm)
{
	vm_register_hypercall(vm, COWVMM_HC_CONSOLE, sizeof(struct cowvmm_hc_console), hc_console);
	vm_register_hypercall(vm, COWVMM_HC_EXIT, sizeof(struct cowvmm_hc_exit), hc_exit);
	vm_register_hypercall(vm, COWVMM_HC_ASSERT, sizeof(struct cowvmm_hc_assert), hc_assert);
	vm_register_hypercall(vm, COWVMM_HC_CRASH, sizeof(struct cowvmm_hc_crash), hc_crash);
}
