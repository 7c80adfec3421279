#!/bin/sh
# tests/html-browser.sh — vmm --html's page in a real browser: headless Chromium renders the demo's run at several checkpoints; the DOM must show what --dump-pt printed there (TAP).
#
# The VMM runs go through tools/kvm-run (one boot of the emulated machine
# where /dev/kvm cannot run the guest); Chromium runs here, on the pages they
# wrote.  Each page is compared with an independent view of the same run:
# --dump-pt all@N (ptdump.c's own walk, printed as text) at the checkpoint the
# page is opened at (#step=N).  Without Chromium this skips, except on CI
# (tools/install-deps installs Debian's chromium).
. "${TOP_SRCDIR:-.}/tests/lib.sh"

: "${VMM:?set VMM to the vmm binary}"
: "${KERNEL:?set KERNEL to the guest kernel ELF}"
top=${TOP_SRCDIR:-.}

browser=
for c in chromium chromium-browser google-chrome; do
	command -v "$c" >/dev/null 2>&1 && { browser=$(command -v "$c"); break; }
done
if [ -z "$browser" ]; then
	why="no Chromium here (apt-get install chromium; tools/install-deps does)"
	if [ "${CI:-}" = true ]; then
		echo "Bail out! $why"
		exit 1
	fi
	echo "1..0 # SKIP $why"
	_t_done=yes
	exit 0
fi

# The runs, in one boot: the demo with a page and a dump at checkpoints 2
# (fork), 5 (a COW fault, before), 8 (a copy) and 11 (a reuse); a run whose
# audit fails (--mutate writable breaks an invariant at the first fork); a
# window of checkpoints 3 to 5; cowtest's threads and smpforkwr cases on two
# vCPUs (threads sharing one address space: smpforkwr forks 30 times beside
# its writer thread, so hundreds of checkpoints have a thread beside its
# leader).
STEPS="2 5 8 11"
cat >"$T/runs.sh" <<EOF
for n in $STEPS; do
	'$VMM' --kernel '$KERNEL' -q --html "$T/demo-\$n.html" --dump-pt all@\$n >"$T/dump-\$n.out" 2>"$T/dump-\$n.err"
	echo \$? >"$T/rc-\$n"
done
'$VMM' --kernel '$KERNEL' -q --mutate writable --html '$T/bad.html' >'$T/bad.out' 2>'$T/bad.err'
echo \$? >'$T/rc-bad'
'$VMM' --kernel '$KERNEL' -q --html '$T/window.html' --html-window 3:5 >'$T/window.out' 2>'$T/window.err'
echo \$? >'$T/rc-window'
'$VMM' --kernel '$KERNEL' -q --cpus 2 --html '$T/threads.html' -- cowtest threads smpforkwr >'$T/threads.out' 2>'$T/threads.err'
echo \$? >'$T/rc-threads'
EOF
sh "$top/tools/kvm-run" --retries 2 --timeout 600 --probe "'$VMM' --probe" -- sh "$T/runs.sh" >"$T/kvm-run.out" 2>"$T/kvm-run.err"
krc=$?
if [ $krc -ne 0 ]; then
	diag "tools/kvm-run: status $krc" "$(tail -n 30 "$T/kvm-run.err")"
	[ $krc -eq 77 ] && [ "${CI:-}" != true ] && { echo "1..0 # SKIP KVM cannot be reached"; _t_done=yes; exit 0; }
fi

# dom FILE FRAGMENT OUT: the DOM after the page's script ran.
dom() {
	rm -rf "$T/profile"
	timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$T/profile" --virtual-time-budget=5000 --dump-dom "file://$1$2" >"$3" 2>"$3.err"
}

# The page's mappings: "pid va frame refcount", one line per page, from its run groups.
page_maps() {
	grep -o '<g class="run[^>]*>' "$1" |
		sed 's/.*data-pid="\([0-9]*\)" data-va="\([0-9]*\)" data-frame="\([0-9]*\)" data-n="\([0-9]*\)" data-rc="\([0-9]*\)".*/\1 \2 \3 \4 \5/' |
		awk '{ for (k = 0; k < $4; k++) printf "%d %.0f %d %d\n", $1, $2 + 4096 * k, $3 + k, $5 }' | sort
}
# The dump's mappings, the same way: "info tlb" lines under each "pid N" header.
dump_maps() {
	awk '/^pid [0-9]+ / { pid = $2 }
	     /^  [0-9a-f]+: [0-9a-f]+ .*refcount/ {
		va = $1; sub(/:$/, "", va)
		for (i = 1; i <= NF; i++) if ($i == "refcount") rc = $(i + 1)
		printf "%d %.0f %d %d\n", pid, strtonum("0x" va), strtonum("0x" $2) / 4096, rc }' "$1" 2>/dev/null | sort
}
# awk without strtonum (mawk): hex by hand.
if ! awk 'BEGIN { strtonum("0x10") }' 2>/dev/null; then
	dump_maps() {
		awk 'function hex(s,   n, i, c) { n = 0; s = tolower(s); for (i = 1; i <= length(s); i++) { c = index("0123456789abcdef", substr(s, i, 1)) - 1; n = n * 16 + c } return n }
		     /^pid [0-9]+ / { pid = $2 }
		     /^  [0-9a-f]+: [0-9a-f]+ .*refcount/ {
			va = $1; sub(/:$/, "", va)
			for (i = 1; i <= NF; i++) if ($i == "refcount") rc = $(i + 1)
			printf "%d %.0f %d %d\n", pid, hex(va), hex($2) / 4096, rc }' "$1" | sort
	}
fi
attr() { grep -o "id=\"$2\"[^>]*" "$1" | sed -n "s/.*$3=\"\([^\"]*\)\".*/\1/p" | head -n 1; }

for n in $STEPS; do
	f=$T/demo-$n.html
	[ "$(cat "$T/rc-$n" 2>/dev/null)" = 0 ] && [ -s "$f" ]
	ok $? "checkpoint $n: the demo ran (exit 0) and wrote its page"
	[ -s "$f" ] || { diag "$(cat "$T/dump-$n.err" 2>/dev/null)"; continue; }
	dom "$f" "#step=$n" "$T/dom-$n.html"
	grep -q '<body data-ready="1"' "$T/dom-$n.html"
	ok $? "#step=$n: the page's script ran to its end"
	kind=$(sed -n "s/^==== page tables (checkpoint $n, \(.*\)) ====$/\1/p" "$T/dump-$n.out")
	[ "$(attr "$T/dom-$n.html" stepinfo data-seq)" = "$n" ] && [ -n "$kind" ] &&
		[ "$(attr "$T/dom-$n.html" stepinfo data-kind)" = "$kind" ]
	ok $? "#step=$n: the page shows checkpoint $n, a $kind checkpoint as the dump says"
	page_maps "$T/dom-$n.html" >"$T/page-$n.maps"
	dump_maps "$T/dump-$n.out" >"$T/dump-$n.maps"
	[ -s "$T/page-$n.maps" ] && cmp -s "$T/page-$n.maps" "$T/dump-$n.maps"
	r=$?
	ok $r "#step=$n: every page the page draws (pid, address, frame, refcount) is what --dump-pt printed, and no other ($(wc -l <"$T/page-$n.maps") pages)"
	[ $r -eq 0 ] || diag "page (<) against dump (>):" "$(diff "$T/page-$n.maps" "$T/dump-$n.maps" | head -n 20)"
	[ "$(attr "$T/dom-$n.html" verdict data-violations)" = 0 ]
	ok $? "#step=$n: the audit's verdict is shown: no violation"
done

# The copy at checkpoint 8: the old frame's history, opened by "&frame=".
old=$(grep -o '"seq":8,"kind":"cow-after"[^}]*"old":[0-9]*' "$T/demo-8.html" | sed 's/.*"old"://')
if [ -n "$old" ]; then
	dom "$T/demo-8.html" "#step=8&frame=$old" "$T/hist.html"
	rc_page=$(grep -o '<tr data-seq="8">.*' "$T/hist.html" | sed 's/<\/tr>.*//' | sed -n 's/.*<td>8 cow-after<\/td><td>\([0-9]*\)<\/td>.*/\1/p')
	rc_dump=$(awk -v f="$old" '$3 == f { print $4; exit }' "$T/dump-8.maps")
	[ -n "$rc_page" ] && [ "$rc_page" = "$rc_dump" ]
	ok $? "&frame=$old: the copied frame's history says refcount ${rc_page:-?} at checkpoint 8, as the dump (${rc_dump:-?})"
	rows=$(grep -o '<tr data-seq="[0-9]*">' "$T/hist.html" | wc -l)
	[ "$rows" -ge 7 ]
	ok $? "&frame=$old: its history lists every checkpoint that maps it, from the fork on ($rows rows)"
else
	ok 1 "checkpoint 8 of the demo is a COW copy (its old frame's history)"
fi

# A screenshot of one step.
rm -rf "$T/profile"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync --user-data-dir="$T/profile" \
	--virtual-time-budget=5000 --window-size=1500,1000 --screenshot="$T/shot.png" "file://$T/demo-8.html#step=8" \
	>/dev/null 2>&1
[ "$(head -c 4 "$T/shot.png" 2>/dev/null | od -An -c | tr -d ' ')" = '211PNG' ] && [ "$(wc -c <"$T/shot.png")" -gt 20000 ]
ok $? "a screenshot of checkpoint 8 is a PNG of some size ($(wc -c <"$T/shot.png" 2>/dev/null || echo 0) bytes)"
[ -n "${COWVMM_HTML_SHOT:-}" ] && cp "$T/shot.png" "$COWVMM_HTML_SHOT"

# Self-contained and small.
size=$(wc -c <"$T/demo-8.html")
[ "$size" -lt 1000000 ] && ! grep -q -E '(src|href)=|@import|url\(' "$T/demo-8.html"
ok $? "the demo's page is self-contained (nothing loaded) and under 1 MB ($size bytes)"

# A failed audit: the page is still written, the failed checkpoint marked.
[ "$(cat "$T/rc-bad" 2>/dev/null)" = 1 ] && [ -s "$T/bad.html" ]
ok $? "--mutate writable: the run fails (exit 1) and still writes its page"
dom "$T/bad.html" "" "$T/bad-dom.html"
failed=$(grep -o '<button class="k-[a-z-]* failed[a-z ]*" data-seq="[0-9]*"' "$T/bad-dom.html" | sed 's/.*data-seq="\([0-9]*\)"/\1/' | head -n 1)
want=$(sed -n 's/^vmm: audit violation at checkpoint \([0-9]*\) .*/\1/p' "$T/bad.err" | head -n 1)
[ -n "$failed" ] && [ "$failed" = "$want" ]
ok $? "the timeline marks checkpoint ${failed:-?} as failed, where the audit reported it (${want:-?})"
dom "$T/bad.html" "#step=${failed:-1}" "$T/bad-step.html"
v=$(attr "$T/bad-step.html" verdict data-violations)
[ "${v:-0}" -ge 1 ] && grep -q 'id="stepinfo" class="failed"' "$T/bad-step.html"
ok $? "#step=${failed:-?}: the verdict lists the violation(s) (${v:-none}) and the step is marked failed"

# The window.
dom "$T/window.html" "" "$T/window-dom.html"
seqs=$(grep -o '<button class="k-[a-z -]*" data-seq="[0-9]*"' "$T/window-dom.html" | sed 's/.*data-seq="\([0-9]*\)"/\1/' | tr '\n' ' ')
[ "$seqs" = "3 4 5 " ]
ok $? "--html-window 3:5: the timeline has checkpoints 3, 4 and 5 only (${seqs:-none})"

# Threads: a page of many checkpoints on two vCPUs, every one drawn without
# an error, and a thread's table shared, not drawn twice.
[ "$(cat "$T/rc-threads" 2>/dev/null)" = 0 ] && [ -s "$T/threads.html" ]
r=$?
ok $r "cowtest threads smpforkwr on 2 vCPUs: exit 0, page written ($(wc -c <"$T/threads.html" 2>/dev/null || echo 0) bytes)"
[ $r -eq 0 ] || diag "$(tail -n 5 "$T/threads.err")"
nsteps=$(grep -o '"seq":[0-9]*,"kind"' "$T/threads.html" | wc -l)
mid=$(awk 'BEGIN { RS = "\\{\"seq\":" } NR > 1 && /"as":/ { split($0, a, ","); print a[1]; exit }' "$T/threads.html")
if [ -n "$mid" ]; then
	dom "$T/threads.html" "#step=$mid" "$T/threads-dom.html"
	grep -q '<body data-ready="1"' "$T/threads-dom.html" && grep -q 'share these tables' "$T/threads-dom.html"
	ok $? "#step=$mid of $nsteps: a checkpoint with a thread: drawn, its group's tables once, said to be shared"
else
	ok 1 "the threads run recorded a checkpoint where a thread shares its group's tables ($nsteps checkpoints)"
fi
for n in 1 $((nsteps / 2)) $nsteps; do
	dom "$T/threads.html" "#step=$n" "$T/threads-$n.html"
	grep -q '<body data-ready="1"' "$T/threads-$n.html"
	ok $? "threads page, #step=$n: the script ran to its end"
done

done_testing
