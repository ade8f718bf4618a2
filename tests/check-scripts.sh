#!/bin/sh
# tests/check-scripts.sh MMSIM DIR — malformed and failing scenario scripts:
# each must end with its documented exit code (never a crash), and a script
# error must point at a line and column. Then the command's other inputs and
# its limits: directories, unreadable and oversized files, standard input,
# output that cannot be written, the REPL on endless or binary input, the
# step budget, and a script of many names (linear, not quadratic).
set -u
mmsim=$1
dir=$2
status=0
expect_exit() { # script code
    out=$("$mmsim" run "$dir/$1" 2>&1)
    rc=$?
    if [ "$rc" -ne "$2" ]; then
        echo "FAIL $1: exit $rc, expected $2"; echo "$out" | tail -5; status=1; return
    fi
    if [ "$2" -eq 2 ] && ! echo "$out" | grep -q "$1:[0-9]*:[0-9]*: error:"; then
        echo "FAIL $1: no line:column error"; echo "$out" | tail -5; status=1; return
    fi
    echo "ok   $1 (exit $rc)"
}
for s in bad-verb bad-command bad-string bad-number unknown-name wrong-kind dangling-plus control-byte \
         machine-twice huge-number expect-missing after-bugcheck repeat-no-end end-no-repeat repeat-zero \
         repeat-too-deep nul-byte long-line long-name long-word sum-overflow no-hex-digits bad-pfn-index; do
    expect_exit "$s.mms" 2
done
expect_said() { # script text: exit 2 and the error says this
    expect_exit "$1" 2
    "$mmsim" run "$dir/$1" 2>&1 | grep -qF "$2" || { echo "FAIL $1: no '$2' in the error"; status=1; }
}
expect_said misspelled-verb.mms "did you mean 'allocate'?"
expect_said bad-irql.mms "did you mean DISPATCH? levels: PASSIVE, APC, DISPATCH or 0..31"
expect_said note-unquoted.mms "a note is a quoted string"
expect_said long-tag.mms "tag 'TooLong' is too long"
expect_said arity-before-run.mms "too few arguments"
"$mmsim" run "$dir/arity-before-run.mms" 2>&1 | grep -q "this must not print" &&
    { echo "FAIL arity-before-run.mms: a line ran before the static check"; status=1; }
expect_exit expect-fails.mms 1
expect_exit repeat-fails.mms 1
expect_exit unexpected-bugcheck.mms 3
expect_exit crlf.mms 0
"$mmsim" run "$dir/does-not-exist.mms" >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: a missing file is exit 2"; status=1; }
"$mmsim" lab run ../etc/passwd >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: a lab name with a path is exit 2"; status=1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
limit() { # seconds command...: the command, stopped if it runs too long
    if command -v timeout >/dev/null 2>&1; then timeout "$@"; else shift; "$@"; fi
}
# check NAME RC PATTERN command...: exit code RC and PATTERN in its stdout+stderr
check() {
    name=$1 want=$2 pattern=$3
    shift 3
    "$@" >"$tmp/out" 2>&1
    rc=$?
    if [ "$rc" -ne "$want" ] || ! grep -q -- "$pattern" "$tmp/out"; then
        echo "FAIL $name: exit $rc (expected $want), looked for: $pattern"; tail -5 "$tmp/out" | cut -c1-200
        status=1; return
    fi
    echo "ok   $name"
}

# Inputs that are not scripts.
check "a directory" 2 "$dir: is a directory" "$mmsim" run "$dir"
dd if=/dev/null of="$tmp/big.mms" bs=1 seek=65M 2>/dev/null
check "a file over 64 MiB" 2 "larger than the 64 MiB limit" "$mmsim" run "$tmp/big.mms"
[ -r /dev/zero ] && check "an endless stream as a script" 2 "larger than the 64 MiB limit" limit 60 "$mmsim" run /dev/zero
check "a script on standard input" 0 "PASSED" sh -c "printf 'note \"hi\"\n' | \"\$1\" run -" sh "$mmsim"
check "an error on standard input" 2 "<stdin>:1:1: error: unknown command" sh -c "echo bogus | \"\$1\" run -" sh "$mmsim"
check "a closed standard input" 2 "standard input: Bad file descriptor" sh -c "\"\$1\" run - <&-" sh "$mmsim"
"$mmsim" run "$dir/crlf.mms" | grep -q "$(printf '\r')" && { echo "FAIL crlf: a CR is echoed"; status=1; }

# Output that cannot be written: exit 2 and a message on stderr.
if [ -w /dev/full ]; then
    check "lab list > /dev/full" 2 "cannot write the output: No space left on device" sh -c "\"\$1\" lab list >/dev/full" sh "$mmsim"
    check "run > /dev/full" 2 "cannot write the output" sh -c "\"\$1\" lab run demo >/dev/full" sh "$mmsim"
    check "repl > /dev/full" 2 "cannot write the output" sh -c "yes 'note \"x\"' | head -n 100000 | \"\$1\" repl >/dev/full" sh "$mmsim"
fi
check "stdout closed" 2 "standard output is closed" sh -c "\"\$1\" lab run demo >&-" sh "$mmsim"
check "--help, stdout closed" 2 "standard output is closed" sh -c "\"\$1\" --help >&-" sh "$mmsim"

# The REPL: binary input stops it, an overlong line is refused, memory stays bounded.
[ -r /dev/zero ] && check "repl < /dev/zero" 2 "line 1: a NUL byte: the input is not text" limit 60 "$mmsim" repl </dev/zero
{ head -c 5000 /dev/zero | tr '\0' x; printf '\nnote "after"\n'; } >"$tmp/long"
check "repl: an overlong line" 0 "repl:1:4097: error: line longer than 4096 characters" "$mmsim" repl <"$tmp/long"
grep -q "^      after" "$tmp/out" || { echo "FAIL repl: the line after an overlong one did not run"; status=1; }
head -c 20000000 /dev/zero | tr '\0' x >"$tmp/endless"
check "repl: a 20 MB line" 0 "line longer than 4096 characters" limit 60 "$mmsim" repl <"$tmp/endless"
printf 'note "a"\r\n' >"$tmp/crlf"
check "repl: CR LF" 0 "^      a\$" "$mmsim" repl <"$tmp/crlf"

# The step budget: a statement is a step, and so are each 10 units of work.
check "nested repeats stop" 2 "budget.mms:6:9: error: the run's budget of 100000 steps is used up" \
    limit 60 "$mmsim" run "$dir/budget.mms" --max-steps 100000
check "pages count as steps" 2 "budget-events.mms:8:15: error: this would take 1638 steps, more than the" \
    "$mmsim" run "$dir/budget-events.mms" --max-steps 1000
check "events count as steps" 2 "budget-events.mms:9:1: error: the run's budget of 5000 steps is used up" \
    "$mmsim" run "$dir/budget-events.mms" --max-steps 5000
check "--max-steps 0: no limit" 0 PASSED "$mmsim" run "$dir/budget-events.mms" --max-steps 0
check "--max-steps needs a number" 2 "--max-steps takes a number" "$mmsim" run "$dir/budget.mms" --max-steps lots
check "repl --max-steps" 0 "budget of 50 steps" sh -c "printf 'repeat 100\nnote \"x\"\nend\n' | \"\$1\" repl --max-steps 50" sh "$mmsim"

# The views in WinDbg's layout and wording (docs/views.md): each line below
# is what WinDbg prints for the same state; mmsim's own lines come after
# "mmsim:". A regression in a field name, a column or a word fails here.
"$mmsim" run "$dir/views.mms" >"$tmp/views" 2>&1 || { echo "FAIL views.mms did not pass"; tail -5 "$tmp/views"; status=1; }
view_has() { # what pattern: a line matching the extended regex
    grep -Eq -- "$2" "$tmp/views" || { echo "FAIL view $1: no line like: $2"; status=1; }
}
view_lacks() {
    grep -Eq -- "$2" "$tmp/views" && { echo "FAIL view $1: a line like: $2"; status=1; }
}
view_has "!pfn" '^    PFN 00000013 at address FFFFFA8000000390$'
view_has "!pfn" '^    flink       00000001  blink / share count 00000001  pteaddress FFFFF68000000080$'
view_has "!pfn" '^    reference count 0001    used entry count  [-0-9A-F]{4}      Cached    color [-0-9]   Priority [-0-7]$'
view_has "!pfn" '^    restore pte 00000080  containing page 000012  Active$'
view_lacks "!pfn" '^    maps '
view_has "!pfn (mmsim)" '^  maps 0000000000010000 in process 256 \(Private page\)$'
view_has "!process" '^PROCESS fffffa8000201010$'
view_has "!process" '^    Cid: 0100$'
view_has "!process" '^    DirBase: 0000e000$'
view_has "!process" '^    Image: app.exe$'
view_has "!process" '^    Vads 1 Locked 0\.$'
view_has "!process" '^    CommitCharge +3$'
view_lacks "!process" '^    (VadCount|WorkingSet [0-9]|.*LockedPages [0-9])'
view_has "!vad" '^VAD +Level +Start +End +Commit$'
view_has "!vad" '^- +[0-9]+ +10 +12 +3 Private +READWRITE$'
view_has "!vad" '^Total VADs: 1$'
view_has "!pte" '^ +VA 0000000000010000$'
view_has "!pte" '^PXE at FFFFF6FB7DBED000    PPE at FFFFF6FB7DA00000    PDE at FFFFF6FB40000000    PTE at FFFFF68000000080$'
view_has "!pte" '^contains 0000000000010067  contains 0000000000011067  contains 0000000000012067  contains 0000000000013880$'
view_has "!pte" '^pfn 10        ---DA--UWEV  pfn 11        ---DA--UWEV  pfn 12        ---DA--UWEV  not valid$'
view_has "!pte" '^ {82}Transition: 13$'
view_has "!pte" '^ {82}Protect: 4 - ReadWrite$'
view_has "!pte" '^ {82}DemandZero$'
view_has "!pte" '---DA--KWEV  not valid$'
view_has "!memusage" '^ +Active/Valid: +[0-9]+ \( +[0-9]+ kb\)$'
view_has "!memusage" '^ +TOTAL: +4096 \( +16384 kb\)$'
view_has "!memusage" '^  Usage Summary \(in Kb\):$'
view_has "!memusage" '^Control Valid Standby Dirty Shared Locked PageTables  name$'
view_has "!memusage" '^-------- +[0-9]+ +[0-9]+ +[0-9]+ ----- +[0-9]+ +[0-9]+  process \( app.exe \)$'
view_has "dt _MDL" '^   \+0x000 Next             : \(null\)$'
view_has "dt _MDL" '^   \+0x008 Size             : 0n72$'
view_has "dt _MDL" '^   \+0x00a MdlFlags         : 0n138$'
view_has "dt _MDL" '^   \+0x00c AllocationProcessorNumber : 0$'
view_has "dt _MDL" '^   \+0x00e Reserved         : 0$'
view_has "dt _MDL" '^   \+0x010 Process          : 0xfffffa80`00201010 _EPROCESS$'
view_has "dt _MDL" '^   \+0x018 MappedSystemVa   : \(null\)$'
view_has "dt _MDL" '^   \+0x020 StartVa          : 0x00000000`00010000 Void$'
view_has "dt _MDL" '^   \+0x028 ByteCount        : 0x3000$'
view_has "dt _MDL (type)" '^   \+0x000 Next             : Ptr64 _MDL$'
view_has "dt _MDL (type)" '^   \+0x00c AllocationProcessorNumber : Uint2B$'
view_has "dt _MDL (type)" '^   \+0x010 Process          : Ptr64 _EPROCESS$'
view_has "dt _MDL (type)" '^   \+0x018 MappedSystemVa   : Ptr64 Void$'
view_has "dt _MDL (type)" '^   \+0x02c ByteOffset       : Uint4B$'
view_has "dt _MDL (mmsim)" '^  MdlFlags 0x008a: PAGES_LOCKED\|ALLOCATED_FIXED_SIZE\|WRITE_OPERATION$'
view_has "!verifier" '^Verify Flags Level 0x00000002$'
view_has "!verifier" '^  STANDARD FLAGS:$'
view_has "!verifier" '^    \[X\] \(0x00000002\) Force IRQL checking$'
view_has "!verifier" '^  ADDITIONAL FLAGS:$'
view_has "!verifier" '^Summary of All Verifier Statistics$'
view_has "!verifier" '^  RaiseIrqls +0x1$'
view_has "!verifier" '^  Pool Allocations Succeeded +0x1$'
view_has "!history" '^  line 17  MmProbeAndLockPages: PFN 0x13 reference count 1 -> 2$'
view_lacks "!history" '^  #[0-9]+ line 7 '
view_has "!history -v" '^  #[0-9]+ line 17 MmProbeAndLockPages: NOTE LOCK '
view_has "STOP line" '^      \*\*\* STOP: 0x00000076 \(0x0000000000000000,0xFFFFFA8000201010,0x0000000000000003,0x0000000000000000\)$'
view_has "STOP line" '^      PROCESS_HAS_LOCKED_PAGES$'
view_has "!analyze -v" '^\*{79}$'
view_has "!analyze -v" '^\* +Bugcheck Analysis +\*$'
view_has "!analyze -v" '^PROCESS_HAS_LOCKED_PAGES \(76\)$'
view_has "!analyze -v" '^Arg1: 0000000000000000, the process being terminated still has locked pages$'
view_has "!analyze -v" '^Arg4: 0000000000000000, '
view_has "!analyze -v" '^Debugging Details:$'
view_has "!analyze -v" '^BUGCHECK_CODE:  76$'
view_has "!analyze -v" '^BUGCHECK_P2: fffffa8000201010$'
view_has "!analyze -v" '^PROCESS_NAME:  System$'
view_has "!analyze -v" '^MODULE_NAME: nt$'
view_has "!analyze -v" '^IMAGE_NAME:  ntkrnlmp.exe$'
view_has "!analyze -v" '^FAILURE_BUCKET_ID:  0x76_0_nt!PspExitProcess$'
view_has "!analyze -v" '^Probably caused by : ntkrnlmp.exe \( nt!PspExitProcess \)$'
view_has "!analyze -v (mmsim)" '^  Raised by: PspExitProcess \(line 27\) on CPU 0$'
view_has "0x76 history" '^    MDL fffffa8000202010 \(locked at line 17, never unlocked\):$'
view_has "0x76 history" '^    line 17  MmProbeAndLockPages: PFN 0x16 reference count 1 -> 2$'
# A driver's fault names the driver; a bad paged-pool free is in the sub-code table.
"$mmsim" lab run demo >"$tmp/views" 2>&1
view_has "!analyze -v (driver)" '^DRIVER_IRQL_NOT_LESS_OR_EQUAL \(d1\)$'
view_has "!analyze -v (driver)" '^IMAGE_NAME:  demo.sys$'
view_has "!analyze -v (driver)" '^Probably caused by : demo.sys \( demo\+1040 \)$'
printf 'machine\npool paged b 0x1000\npool free b+0x100\nexpect bugcheck 0xC2 0x50\n!analyze -v\n' >"$tmp/c2.mms"
"$mmsim" run "$tmp/c2.mms" >"$tmp/views" 2>&1
view_has "0xC2 sub-code" '^Arg1: 0000000000000050, a non-allocated paged-pool address was freed$'
view_lacks "0xC2 sub-code" 'see sub-code'
[ $status -eq 0 ] && echo "ok   views in WinDbg's layout"

# Script size limits, and 200 000 names in linear time (it was quadratic:
# 100 000 took 19 s).
awk 'BEGIN { for (i = 0; i <= 1000000; i++) print "note" }' >"$tmp/many.mms"
check "a million statements" 2 "many.mms:1000001:1: error: more than 1000000 statements" "$mmsim" run "$tmp/many.mms"
awk 'BEGIN { for (i = 0; i < 200000; i++) printf "let v%d = %d\n", i, i; print "expect value v199999 = 199999" }' \
    >"$tmp/names.mms"
check "200 000 names" 0 PASSED limit 30 "$mmsim" run "$tmp/names.mms"
exit $status
