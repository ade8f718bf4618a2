#!/bin/sh
# tests/check-report.sh MMSIM — pictures of a run: DOT files with changes in
# red; SVG through Graphviz; and the HTML report opened in headless
# Chromium, which must finish its script (data-status="ok"), show a picture
# and not be blank. Exit 77 (skipped) only when no browser is installed.
set -u
mmsim=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
fail() { echo "FAIL $1"; [ -n "${2:-}" ] && echo "$2" | tail -15; status=1; }

out=$("$mmsim" lab run mdl-lifecycle --dot "$tmp/dot" 2>&1) || fail "--dot run" "$out"
n=$(ls "$tmp/dot" | grep -c '^step-[0-9]*\.dot$')
[ "$n" -ge 5 ] || fail "--dot drew $n pictures" "$out"
grep -q 'label="PFN 0x[0-9a-f]*\\nActive\\nshare 1  ref 2"' "$tmp"/dot/*.dot || fail "no locked frame (ref 2) in any picture"
grep -q 'color="\{0,1\}red' "$tmp/dot/step-002.dot" || fail "changes are not highlighted"
grep -q 'shape=note' "$tmp"/dot/*.dot || fail "no MDL node"
# The lesson is in the picture: the bug check and the findings in a box.
"$mmsim" lab run double-unlock --dot "$tmp/du" >/dev/null 2>&1
last=$(ls "$tmp/du" | tail -1)
grep -q '"verdict" .*STOP: 0x0000004E (0x0000000000000007,.*PFN_LIST_CORRUPT' "$tmp/du/$last" || fail "the bug check is not in the last picture"
"$mmsim" lab run stale-mapping-repurposed --dot "$tmp/st" >/dev/null 2>&1
last=$(ls "$tmp/st" | tail -1)
grep -q '"verdict" .*finding stale-user-mapping: MDL' "$tmp/st/$last" || fail "the finding is not in the last picture"
grep -q 'verdict' "$tmp/st/step-001.dot" && fail "a verdict box before anything happened"
# A freed name is not drawn over what took its place; a long range says
# how much is not drawn.
printf 'machine\npool nonpaged a 0x1000\npool free a\npool nonpaged b 0x1000\nprocess create app\nprocess attach app\nalloc big 0x10000\n' > "$tmp/fr.mms"
"$mmsim" run "$tmp/fr.mms" --dot "$tmp/fr" >/dev/null 2>&1
last=$(ls "$tmp/fr" | tail -1)
grep -q '>a<br/>' "$tmp/fr/$last" && fail "a freed pool name is still drawn"
grep -q '>b<br/>' "$tmp/fr/$last" || fail "the block that took its place is not drawn"
grep -q 'big: 8 more pages' "$tmp/fr/$last" || fail "a 16-page range does not say 8 more pages"

# A stable layout: from one picture to the next, the boxes, MDLs and frames
# that both show are in the same order on the page (as Graphviz placed
# them: column by column, top to bottom), and so are the rows in the boxes;
# something freed or added in the middle moves nothing else. And the same
# script draws the same pictures, byte for byte.
placed() { # DOT file: its nodes as placed, column by column, top to bottom
    dot -Tplain "$1" | awk '$1 == "node" { print $3, -$4, $2 }' | sort -k1,1g -k2,2g | awk '{ print $3 }'
}
rows() { grep -o 'port="[^"]*"' "$1"; }
same_order() { # kind A-list B-list: what both lists hold is in the same order
    grep -Fx -f "$3" "$2" > "$2.common"
    grep -Fx -f "$2" "$3" > "$3.common"
    cmp -s "$2.common" "$3.common" ||
        fail "$1 moved from $4 to $5" "$(diff "$2.common" "$3.common")"
}
stable() { # DIR: each picture against the one before it
    prev=""
    for f in "$1"/step-*.dot; do
        placed "$f" > "$f.placed"
        rows "$f" > "$f.rows"
        if [ -n "$prev" ]; then
            same_order "nodes" "$prev.placed" "$f.placed" "${prev##*/}" "${f##*/}"
            same_order "rows" "$prev.rows" "$f.rows" "${prev##*/}" "${f##*/}"
        fi
        prev=$f
    done
}
"$mmsim" run "$(dirname "$0")/scripts/picture-stable.mms" --dot "$tmp/stable" >/dev/null 2>&1 ||
    fail "picture-stable.mms did not pass"
grep -q '"f[0-9a-f]*" -> "f' "$tmp/stable/step-010.dot" || fail "the frames are not held in a column"
stable "$tmp/stable"
for lab in partial-mdl-reuse system-pte-exhaustion; do
    "$mmsim" lab run $lab --dot "$tmp/$lab" >/dev/null 2>&1
    stable "$tmp/$lab"
    "$mmsim" lab run $lab --dot "$tmp/$lab-again" >/dev/null 2>&1
    rm -f "$tmp/$lab"/*.placed* "$tmp/$lab"/*.rows*
    diff -r "$tmp/$lab" "$tmp/$lab-again" >/dev/null || fail "$lab: the same lab drew different pictures"
done

: > "$tmp/a-file"
out=$("$mmsim" lab run mdl-lifecycle --dot "$tmp/a-file" 2>&1)
[ $? -eq 2 ] || fail "--dot onto a file is not an error" "$out"
echo "$out" | grep -q 'not a directory' || fail "--dot onto a file: no reason given" "$out"
echo "$out" | grep -q 'PASSED' && fail "--dot onto a file: the lab ran anyway" "$out"
out=$("$mmsim" lab run mdl-lifecycle --svg "$tmp/a-file" 2>&1)
[ $? -eq 2 ] || fail "--svg onto a file is not an error" "$out"
echo "$out" | grep -q 'not a directory' || fail "--svg onto a file: no reason given" "$out"

out=$("$mmsim" lab run mdl-lifecycle --svg "$tmp/svg" 2>&1) || fail "--svg run (is Graphviz installed?)" "$out"
grep -q '<svg' "$tmp/svg/step-001.svg" || fail "step-001.svg is not SVG"

out=$("$mmsim" lab run double-unlock --html "$tmp/report.html" 2>&1)
[ $? -eq 0 ] || fail "--html run" "$out"
grep -q 'id="pic0"><svg' "$tmp/report.html" || fail "the report holds no picture"
grep -q 'PFN_LIST_CORRUPT' "$tmp/report.html" || fail "the report lacks the bug check"
grep -q '<section id="about"><pre>Double unlock: 0x4E PFN_LIST_CORRUPT' "$tmp/report.html" ||
    fail "the report does not show the lab's explanation"
out=$("$mmsim" lab run double-unlock 2>&1)
echo "$out" | head -1 | grep -q '^Double unlock: 0x4E' || fail "lab run does not start with the lab's explanation" "$out"

browser=""
for b in chromium chromium-browser google-chrome; do
    command -v "$b" >/dev/null 2>&1 && { browser=$b; break; }
done
if [ -z "$browser" ]; then
    echo "no Chromium: the browser check is skipped (tools/setup.sh test installs it)"
    [ $status -eq 0 ] && exit 77
    exit $status
fi
flags="--headless --no-sandbox --disable-gpu --user-data-dir=$tmp/profile --window-size=1280,1000"
timeout 120 "$browser" $flags --virtual-time-budget=3000 --dump-dom "file://$tmp/report.html" > "$tmp/dom.html" 2>"$tmp/browser.log"
grep -q 'data-status="ok"' "$tmp/dom.html" || fail "the page did not finish its script" "$(cat "$tmp/browser.log")"
grep -q 'id="error" style="display: block' "$tmp/dom.html" && fail "the page shows an error"
grep -q 'id="picture"><svg' "$tmp/dom.html" || fail "no picture is shown"
grep -q 'step 1 of' "$tmp/dom.html" || fail "the step counter is empty"
timeout 120 "$browser" $flags --virtual-time-budget=3000 --dump-dom "file://$tmp/report.html#step-3" > "$tmp/dom3.html" 2>>"$tmp/browser.log"
grep -q 'step 3 of' "$tmp/dom3.html" || fail "a link to #step-3 does not open step 3"
timeout 120 "$browser" $flags --screenshot="$tmp/shot.png" "file://$tmp/report.html" >/dev/null 2>&1
size=$(wc -c < "$tmp/shot.png" 2>/dev/null || echo 0)
[ "$size" -gt 20000 ] || fail "the screenshot is blank or missing ($size bytes)"
[ $status -eq 0 ] && echo "ok   pictures and report ($browser)"
exit $status
