# tests/lib.sh — helpers for shell TAP batches: plan, ok/not ok counting, running the VMM.
# Source it from a batch: `. "${TOP_SRCDIR:-.}/tests/lib.sh"`.  POSIX sh.

_t_n=0
_t_fail=0

# plan N: print the TAP plan.
plan() {
	echo "1..$1"
}

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

# done_testing: exit status of the batch (nonzero when any test failed).
done_testing() {
	[ "$_t_fail" -eq 0 ]
}

# A private scratch directory, removed on exit.
T=$(mktemp -d "${TMPDIR:-/tmp}/cowvmm-test.XXXXXX") || exit 99
trap 'rm -rf "$T"' EXIT
