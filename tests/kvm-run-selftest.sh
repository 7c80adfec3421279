#!/bin/sh
# kvm-run-selftest.sh — TAP checks of tools/kvm-run: skip rules, direct mode, emulated mode.
#
# The emulated checks boot the real QEMU/TCG machine (about 5-10 s each); when
# QEMU or the guest kernel cannot be had they are skipped, except with CI=true.

top=${TOP_SRCDIR:-${srcdir:-$(dirname "$0")/..}}
KR="sh $top/tools/kvm-run"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvm-run-selftest.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
check() { # check DESCRIPTION COMMAND...: ok when COMMAND succeeds
	local d=$1; shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# run NAME KVM-RUN-ARGS...: runs kvm-run, keeping stdout, stderr, status in $tmp/NAME.*
run() {
	local name=$1; shift
	$KR "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err"
	echo $? >"$tmp/$name.rc"
}
rc_is() { [ "$(cat "$tmp/$1.rc")" = "$2" ] || { echo "# $1: status $(cat "$tmp/$1.rc"), expected $2"; sed 's/^/# /' "$tmp/$1.err"; return 1; }; }
out_is() { [ "$(cat "$tmp/$1.out")" = "$2" ] || { echo "# $1 stdout:"; sed 's/^/#   /' "$tmp/$1.out"; return 1; }; }
err_has() { grep -q -- "$2" "$tmp/$1.err" || { echo "# $1 stderr lacks '$2':"; sed 's/^/#   /' "$tmp/$1.err"; return 1; }; }


# --- Interface and skip rules (no boot) ---------------------------------------
run help --help
help_ok() { rc_is help 0 && grep -q -- '--tap' "$tmp/help.out" && grep -q -- '--icount' "$tmp/help.out"; }
check "--help documents the options" help_ok
run nocmd --mode direct
check "no command: usage error, status 2" rc_is nocmd 2
printf '#!/bin/sh\n# kvm-run: --bogus 1\ntrue\n' >"$tmp/bogus.sh"
run bogus --mode emulated --batch -- sh "$tmp/bogus.sh"
check "--batch: an unknown directive in the batch is a usage error, status 2" \
	sh -c "[ \$(cat '$tmp/bogus.rc') = 2 ] && grep -q 'unknown kvm-run directive' '$tmp/bogus.err'"

export COWVMM_QEMU=/nonexistent/qemu-system-x86_64
CI= run skip_plain --mode emulated -- true
check "unreachable KVM, not CI: status 77" rc_is skip_plain 77
CI= run skip_tap --tap --mode emulated -- true
check "unreachable KVM, --tap, not CI: TAP skip plan, status 0" \
	sh -c "grep -q '^1\.\.0 # SKIP .*qemu-system-x86' '$tmp/skip_tap.out' && [ \$(cat '$tmp/skip_tap.rc') = 0 ]"
CI=true run bail_tap --tap --mode emulated -- true
check "unreachable KVM, --tap, CI=true: Bail out!, status 1" \
	sh -c "grep -q '^Bail out! .*qemu-system-x86' '$tmp/bail_tap.out' && [ \$(cat '$tmp/bail_tap.rc') = 1 ]"
CI=true run bail_plain --mode emulated -- true
check "unreachable KVM, CI=true: status 1" rc_is bail_plain 1
unset COWVMM_QEMU

# --- Direct mode ----------------------------------------------------------------
if [ -c /dev/kvm ] && (: <>/dev/kvm) 2>/dev/null; then
	run direct --mode direct -- sh -c 'echo out; echo err >&2; exit 3'
	check "direct: exit status 3 passed through" rc_is direct 3
	check "direct: stdout and stderr kept apart" sh -c "[ \"\$(cat '$tmp/direct.out')\" = out ] && grep -qx err '$tmp/direct.err'"
else
	skip "direct: /dev/kvm cannot be opened here"
	skip "direct: /dev/kvm cannot be opened here"
fi

# --- Emulated mode: one boot checks status, streams, env, cwd, files, /dev/kvm ------
mkdir "$tmp/cwd"
emulated() {
	cd "$tmp/cwd" || return
	export KVMRUN_SELFTEST_VAR="it's \"quoted\" \$here"
	run emu --mode emulated --timeout 300 -- sh -c '
			echo "var=$KVMRUN_SELFTEST_VAR"
			echo "cwd=$(pwd)"
			[ -c /dev/kvm ] && (: <>/dev/kvm) && echo kvm=rw
			echo "stderr line" >&2
			echo written >"$PWD/from-inside"
			echo "arg=$1"
			exit 3' selftest "arg with 'space'"
}
(emulated)
if [ "$(cat "$tmp/emu.rc")" = 77 ] && [ "${CI:-}" != true ]; then
	reason=$(tail -n 1 "$tmp/emu.err")
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do skip "emulated: $reason"; done
	echo "1..$n"
	exit 0
fi
check "emulated: exit status 3 passed through" rc_is emu 3
check "emulated: mode announced on stderr" err_has emu 'running inside QEMU/TCG with nested SVM'
check "emulated: environment variable kept, quoting intact" \
	grep -qx "var=it's \"quoted\" \$here" "$tmp/emu.out"
check "emulated: arguments kept, quoting intact" grep -qx "arg=arg with 'space'" "$tmp/emu.out"
check "emulated: working directory kept" grep -qx "cwd=$tmp/cwd" "$tmp/emu.out"
check "emulated: /dev/kvm is there and opens read-write" grep -qx "kvm=rw" "$tmp/emu.out"
check "emulated: stderr on stderr, not on stdout" \
	sh -c "grep -qx 'stderr line' '$tmp/emu.err' && ! grep -q 'stderr line' '$tmp/emu.out'"
check "emulated: no kernel log on stdout" sh -c "[ \$(wc -l <'$tmp/emu.out') = 4 ]"
check "emulated: a file written inside lands on the host" grep -qx written "$tmp/cwd/from-inside"

# --batch: the batch asks for two emulated CPUs.
printf '#!/bin/sh\n# kvm-run: --smp 2\ngrep -c ^processor /proc/cpuinfo\n' >"$tmp/batch.sh"
run batch --mode emulated --timeout 300 --batch -- sh "$tmp/batch.sh"
check "emulated: --batch takes the batch's '# kvm-run: --smp 2' (2 CPUs inside)" \
	sh -c "[ \"\$(cat '$tmp/batch.out')\" = 2 ]"

# A hang inside becomes status 124 outside, promptly.
t0=$(date +%s)
run hang --mode emulated --timeout 15 -- sleep 1000
t=$(( $(date +%s) - t0 ))
check "emulated: --timeout 15 on a hang gives 124 in ${t}s with a message" \
	sh -c "[ \$(cat '$tmp/hang.rc') = 124 ] && [ $t -lt 60 ] && grep -q 'timed out after 15 s' '$tmp/hang.err'"

# A wedged emulated machine (its kernel reports lockups) is stopped at once:
# an error (status 1) without --retries, and a fresh attempt with them, whose
# stdout alone is passed on.  The lockup reports are written to /dev/kmsg,
# which needs root inside (the command runs as the caller; CI runs as root).
if [ "$(id -u)" = 0 ]; then
	lockup='echo "<0>watchdog: BUG: soft lockup - CPU#0 stuck for 99s! [kvm-run-selftest]" >/dev/kmsg'
	t0=$(date +%s)
	run wedge --mode emulated --timeout 300 -- sh -c "echo first; $lockup; $lockup; sleep 1000"
	t=$(( $(date +%s) - t0 ))
	check "emulated: a machine whose kernel reports lockups is stopped in ${t}s, status 1 with the reason" \
		sh -c "[ \$(cat '$tmp/wedge.rc') = 1 ] && [ $t -lt 120 ] && grep -q 'emulated machine wedged: its kernel reports a lockup: watchdog: BUG: soft lockup' '$tmp/wedge.err'"
	run retry --mode emulated --timeout 300 --retries 2 -- sh -c "
		if mkdir '$tmp/attempted' 2>/dev/null; then echo first; $lockup; $lockup; sleep 1000; fi
		echo second; exit 5"
	check "emulated: --retries runs a wedged command again; its status is the fresh attempt's" rc_is retry 5
	check "emulated: --retries: stdout is a note on the failed attempt, then the fresh attempt's output" \
		sh -c "[ \$(wc -l <'$tmp/retry.out') = 2 ] && grep -q '^# kvm-run: attempt 1: the emulated machine wedged: ' '$tmp/retry.out' && tail -n 1 '$tmp/retry.out' | grep -qx second"
else
	for i in 1 2 3; do skip "emulated wedge checks: writing /dev/kmsg inside needs root"; done
fi

# The plan, counted (a late plan is valid TAP).
echo "1..$n"
