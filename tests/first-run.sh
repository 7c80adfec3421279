#!/bin/sh
# first-run.sh — a newcomer runs vmm/vmm directly, not through tools/kvm-run: whatever this host's /dev/kvm is, the outcome is clear (TAP).
#
# Three kinds of host, each with its own expectation (none skips):
#   - /dev/kvm runs the guest's user mode (`vmm --probe` exits 0): the demo runs, exit 0;
#   - /dev/kvm opens but cannot run ring 3 (a PVM-style KVM, as on this
#     project's machines; `vmm --probe` says so): exit 3 and ONE line on
#     stderr that says what is wrong and points to tools/kvm-run / make run
#     (before, the demo "segfaulted" and the VMM exited 1);
#   - no usable /dev/kvm at all: exit 3 and a line saying why.
. "${TOP_SRCDIR:-.}/tests/lib.sh"

: "${VMM:?set VMM to the vmm binary}"
: "${KERNEL:?set KERNEL to the guest kernel ELF}"

"$VMM" --probe >"$T/probe.out" 2>"$T/probe.err" </dev/null
probe=$?
diag "vmm --probe: status $probe: $(cat "$T/probe.err")"
run_vmm --kernel "$KERNEL" --timeout 120
if [ "$probe" -eq 0 ]; then
	expect_status 0 "KVM runs user mode here: the demo runs directly"
	expect_match out 'child exited' "the demo's output"
elif grep -q "cannot run the guest's user mode" "$T/probe.err"; then
	expect_status 3 "PVM-style KVM: exit 3, not a guest failure"
	[ "$(grep -c . "$T/err")" -eq 1 ]
	ok $? "exactly one line on stderr"
	[ $? -eq 0 ] || show_run
	expect_match err "^vmm: this host's /dev/kvm cannot run the guest's user mode .*tools/kvm-run.*make run" \
		"the line says what is wrong and what to run instead"
else
	expect_status 3 "no usable KVM: exit 3"
	expect_match err '^vmm: ' "a line saying why"
fi
done_testing
