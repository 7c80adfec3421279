# tests/lib.sh — helpers for shell TAP batches: numbered ok/not ok, the plan counted for you, running the VMM.
# Source it from a batch: `. "${TOP_SRCDIR:-.}/tests/lib.sh"`.  POSIX sh.
#
# A batch never states how many tests it runs: it ends with done_testing,
# which prints the plan "1..N" after the last test point (a late plan, valid
# TAP).  A batch that stops before done_testing (an error, `exit`, a signal)
# prints no plan, which Automake's TAP driver reports as an error; the EXIT
# trap below also says so with "Bail out!".

_t_n=0
_t_fail=0
_t_done=no

# ok COND-STATUS DESCRIPTION: "ok" when the status is 0 (pass $? of a check).
ok() {
	_t_st=$1
	shift
	_t_n=$((_t_n + 1))
	if [ "$_t_st" -eq 0 ]; then
		echo "ok $_t_n - $*"
	else
		echo "not ok $_t_n - $*"
		_t_fail=$((_t_fail + 1))
	fi
}

# diag TEXT...: a TAP comment (shown by the driver in the log).
diag() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

# skip DESCRIPTION REASON: a skipped test point.
skip() {
	_t_n=$((_t_n + 1))
	echo "ok $_t_n - $1 # SKIP $2"
}

# run_vmm [VMM ARGS...]: run $VMM, leaving its output in $OUT and $ERR (also in
# the files $T/out and $T/err) and its exit status in $STATUS.  Never fails.
run_vmm() {
	"$VMM" "$@" >"$T/out" 2>"$T/err" </dev/null
	STATUS=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# expect_status N DESCRIPTION: test point on $STATUS; on failure show the run.
expect_status() {
	[ "$STATUS" -eq "$1" ]
	_t_r=$?
	ok $_t_r "$2 (exit $STATUS, want $1)"
	[ $_t_r -eq 0 ] || show_run
	return $_t_r
}

# expect_match WHERE REGEX DESCRIPTION: WHERE is out or err; grep -E on it.
expect_match() {
	grep -E -q -- "$2" "$T/$1"
	_t_r=$?
	ok $_t_r "$3"
	[ $_t_r -eq 0 ] || { diag "no match for /$2/ in std$1"; show_run; }
	return $_t_r
}

# show_run: the last run's output, as TAP comments.
show_run() {
	diag "status: $STATUS" "--- stdout:"
	diag "$(head -n 40 "$T/out")"
	diag "--- stderr:"
	diag "$(head -n 40 "$T/err")"
}

# done_testing: the last line of a batch.  Prints the plan (the number of
# test points run) and returns the batch's exit status: nonzero when any test
# failed.  A batch that ran no test point at all fails too: a plan of 1..0
# would read as "skipped", and hide a batch whose loops found nothing to do.
done_testing() {
	[ "$_t_n" -gt 0 ] || ok 1 "the batch ran at least one test point"
	echo "1..$_t_n"
	_t_done=yes
	[ "$_t_fail" -eq 0 ]
}

# cowtest_groups: cowtest's cases in groups, one line per VMM run, from
# tests/kvm/cowtest-groups without its comments and blank lines (the one list
# the cowtest batches share).  Prints nothing if the file cannot be read.
cowtest_groups() {
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "${TOP_SRCDIR:-.}/tests/kvm/cowtest-groups" 2>/dev/null
}

# On exit: remove the scratch directory, and if the batch did not reach
# done_testing, say so (the missing plan alone would make the driver report an
# error, but not why).  The batch's exit status is kept.
_t_on_exit() {
	_t_st=$?
	rm -rf "$T"
	[ "$_t_done" = yes ] ||
		echo "Bail out! ${0##*/} stopped before done_testing (exit status $_t_st, after $_t_n test point(s))"
	exit "$_t_st"
}

# A private scratch directory, removed on exit.
T=$(mktemp -d "${TMPDIR:-/tmp}/cowvmm-test.XXXXXX") || exit 99
trap _t_on_exit EXIT
