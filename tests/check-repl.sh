#!/bin/sh
# tests/check-repl.sh MMSIM — the REPL, piped (each line echoed, changes
# shown, a bad line reported without ending the session, repeat blocks,
# dot-commands) and on a terminal through script(1): arrow-up recalls
# history, Tab completes the command word, Backspace edits.
set -u
mmsim=$1
status=0
fail() { echo "FAIL $1"; echo "$2" | tail -15; status=1; }

out=$(printf '%s\n' 'machine' 'pool nonpaged b 0x1000' 'write b "hi"' 'mdl allocate m b 0x1000' 'mdl lock m' \
    'bogus' 'repeat 2' '  note "looped"' 'end' 'expect pfn b.pfn ref=2' '.history' '.lab double-unlock' \
    '!analyze -v' '.quit' 'note "after quit"' | "$mmsim" repl 2>&1)
rc=$?
[ $rc -eq 0 ] || fail "piped REPL exit $rc" "$out"
echo "$out" | grep -q '~ PFN 0x[0-9a-f]*: ref 1 -> 2' || fail "the lock's change is not shown" "$out"
echo "$out" | grep -q "repl:6:1: error: unknown command 'bogus'" || fail "a bad line is not reported" "$out"
[ "$(echo "$out" | grep -c '^      looped')" -eq 2 ] || fail "a repeat block did not run twice" "$out"
echo "$out" | grep -q 'ok: PFN' || fail "an expectation after an error did not run" "$out"
echo "$out" | grep -q '   9  expect pfn b.pfn ref=2' || fail ".history (the failed line is not kept)" "$out"
echo "$out" | grep -q 'PFN_LIST_CORRUPT' || fail ".lab did not run the lab, or !analyze did not follow" "$out"
echo "$out" | grep -q 'after quit' && fail ".quit did not stop" "$out"

# A first command that makes the machine shows its own changes, not the boot.
out=$(printf 'pool nonpaged b 0x1000\n' | "$mmsim" repl 2>&1)
[ "$(echo "$out" | grep -c '~ PFN')" -le 3 ] || fail "the first command echoed the boot" "$out"
echo "$out" | grep -q "~ POOL_ALLOC alloc .* tag 'Scrp'" || fail "the first command's own change is missing" "$out"

# .save keeps what ran: not a failed line, not a failed expectation, not a
# command typed after the bug check; .help is not numbered; the bug check
# says how to go on. The saved script replays the session (exit 3: the bug
# check was not expected).
tmp=$(mktemp -d)
out=$(printf '%s\n' 'machine' '.help' 'pool paged b 0x1000' 'mdl lokc m' 'expect pfn 5 share=9' \
    'irql raise DISPATCH' 'touch b' 'touch b' '!analyze -v' ".save $tmp/s.mms" | "$mmsim" repl 2>&1)
echo "$out" | grep -q "repl:3:5: error: unknown MDL verb 'lokc'" || fail ".help was numbered" "$out"
echo "$out" | grep -q '.reset starts a new machine' || fail "the bug check does not mention .reset" "$out"
saved=$(cat "$tmp/s.mms" 2>/dev/null)
[ "$saved" = "$(printf '%s\n' machine 'pool paged b 0x1000' 'irql raise DISPATCH' 'touch b' '!analyze -v')" ] ||
    fail ".save kept failed lines" "$saved"
"$mmsim" run "$tmp/s.mms" >/dev/null 2>&1
[ $? -eq 3 ] || fail "the saved script does not replay the bug check" "$saved"
rm -rf "$tmp"

if command -v script >/dev/null 2>&1; then
    keys=$(printf 'machine\rnote "once"\r\033[A\rnot\t"tab"\r.qu\177\177quit\r')
    out=$( (printf '%s' "$keys"; sleep 1) | script -qfc "$mmsim repl" /dev/null 2>&1)
    [ "$(echo "$out" | grep -c '^      once')" -eq 2 ] || fail "arrow-up did not recall the last line" "$out"
    echo "$out" | grep -q '^      tab' || fail "Tab did not complete 'not' to 'note'" "$out"
    echo "$out" | grep -q 'mmsim> ' || fail "no prompt on a terminal" "$out"
    keys=$(printf 'machine\rpool nonp\tbuf1 0x1000\rwrite bu\t"hi"\r.quit\r')
    out=$( (printf '%s' "$keys"; sleep 1) | script -qfc "$mmsim repl" /dev/null 2>&1)
    echo "$out" | grep -q '> pool nonpaged buf1 0x1000' || fail "Tab did not complete the pool verb" "$out"
    echo "$out" | grep -q '> write buf1 "hi"' || fail "Tab did not complete a name" "$out"
else
    echo "script(1) is missing: the terminal half is not run"
fi
[ $status -eq 0 ] && echo "ok   REPL"
exit $status
