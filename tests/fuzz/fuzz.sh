#!/bin/sh
# tests/fuzz/fuzz.sh — each fuzz harness replays its seed corpus, then libFuzzer fuzzes it for FUZZ_SECONDS (TAP).
#
# Seeds: fuzz_hypercall writes its own (a small correct guest after a fork
# and the hypercalls it makes: describe, inspect, inject, bench, console);
# fuzz_elf starts from the guest kernel image.  make check fuzzes for a few
# seconds (a finding fails the test and leaves the input next to the log);
# `make fuzz FUZZ_SECONDS=N` runs longer and keeps its corpus in
# fuzz-corpus/.  With CI=true a missing libFuzzer is a failure, not a skip.
. "${TOP_SRCDIR:-.}/tests/lib.sh"

B=${TOP_BUILDDIR:?set TOP_BUILDDIR to the build tree}
secs=${FUZZ_SECONDS:-15}
corpus=${FUZZ_CORPUS:-$T/corpus}
mkdir -p "$corpus/hypercall" "$corpus/elf"

"$B/tests/fuzz/fuzz_hypercall" --seeds "$corpus/hypercall"
ok $? "hypercall: seed corpus written"
cp "$B/guest/kernel.elf" "$corpus/elf/kernel.elf"
ok $? "elf: seeded with the guest kernel image"

for h in hypercall elf; do
	"$B/tests/fuzz/fuzz_$h" "$corpus/$h"/* >"$T/$h-replay.log" 2>&1
	st=$?
	ok $st "$h: every corpus input replays cleanly under ASan/UBSan"
	[ $st -eq 0 ] || diag "$(tail -n 30 "$T/$h-replay.log")"
	lf="$B/tests/fuzz/fuzz_$h-lf"
	if [ -x "$lf" ]; then
		# timeout: libFuzzer stops itself at max_total_time; this bounds a hang.
		timeout $((secs + 120)) "$lf" -max_total_time="$secs" -close_fd_mask=3 -rss_limit_mb=4096 \
			-max_len=1048832 -timeout=20 -artifact_prefix="$T/$h-" "$corpus/$h" >"$T/$h.log" 2>&1
		st=$?
		ok $st "$h: $secs s of libFuzzer without a finding ($(grep -o 'Done [0-9]* runs' "$T/$h.log" | tail -n 1))"
		if [ $st -ne 0 ]; then
			diag "$(grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$T/$h.log" | head -n 20)"
			diag "$(ls "$T" | grep "^$h-")"
		fi
	elif [ "${CI:-}" = true ]; then
		ok 1 "$h: libFuzzer is not available (clang and libclang-rt-14-dev: tools/install-deps)"
	else
		skip "$h: libFuzzer" "clang with -fsanitize=fuzzer not found by configure"
	fi
done
done_testing
