#!/bin/sh
# tools/bench.sh — `make bench`: cowvmm's fork/COW timings and Linux's, side by side, from one boot.
#
# Usage: bench.sh BUILDDIR SRCDIR
# Runs, in ONE boot of the KVM environment (tools/kvm-run: direct where this
# machine's /dev/kvm runs our guest, else Linux in QEMU/TCG with -icount
# shift=0 so a TSC tick is one executed instruction and figures repeat):
#   1. tools/linux-peer: Linux doing the same work (fork, COW, reuse)
#   2. vmm --bench: the guest's cowbench, then the VMM's report with Linux's
#      figures side by side (ratios), JSON and SVG plots.
# Results land in BUILDDIR/bench/: report.txt, peer.txt, bench.json, svg/.
# Environment: COWVMM_KVM_MODE=auto|direct|emulated (kvm-run's mode, default
# auto), BENCH_ARGS (extra vmm options), BENCH_PROGRAM (default "cowbench").
set -u

[ $# -eq 2 ] || { echo "usage: bench.sh BUILDDIR SRCDIR" >&2; exit 2; }
builddir=$1 srcdir=$2
out=$builddir/bench
mkdir -p "$out" || exit 1
rm -f "$out/report.txt" "$out/peer.txt" "$out/bench.json"

for f in "$builddir/vmm/vmm" "$builddir/tools/linux-peer" "$builddir/guest/kernel.elf"; do
	[ -e "$f" ] || { echo "bench.sh: $f is missing: run make first" >&2; exit 1; }
done

# The inner script runs inside the environment (the host's files are shared).
# 256 MiB of guest user memory for the largest fork, hence -m 1G (QEMU: 2 GiB).
inner='
set -u
b=$1 o=$2 prog=$3; shift 3
echo "== Linux peer: $(uname -sr), the same work (mmap, MADV_NOHUGEPAGE, fork, COW, reuse) =="
"$b/tools/linux-peer" >"$o/peer.txt" || { echo "bench: linux-peer failed" >&2; exit 1; }
cat "$o/peer.txt"
echo
echo "== cowvmm: vmm --bench $prog =="
"$b/vmm/vmm" -m 1G -t 1200 --bench-peer "$o/peer.txt" --bench-json "$o/bench.json" \
	--bench-svg "$o/svg" "$@" -- $prog
'

start=$(date +%s)
# shellcheck disable=SC2086
{
	${SHELL:-/bin/sh} "$srcdir/tools/kvm-run" --icount --mem 2048 --timeout 1800 \
		--probe "$builddir/vmm/vmm --probe" -- \
		/bin/sh -c "$inner" bench "$builddir" "$out" "${BENCH_PROGRAM:-cowbench}" ${BENCH_ARGS:-} 2>&1
	echo $? >"$out/.status"
} | tee "$out/report.txt"
status=$(cat "$out/.status" 2>/dev/null || echo 1)
rm -f "$out/.status"
if ! grep -q '^== cowvmm bench:' "$out/report.txt" && [ "$status" = 0 ]; then status=1; fi
echo
echo "bench: $(( $(date +%s) - start )) s; report in $out/report.txt, JSON in $out/bench.json, plots in $out/svg/"
[ "$status" = 0 ] || echo "bench: FAILED (status $status): see above" >&2
[ "$status" = 0 ]
