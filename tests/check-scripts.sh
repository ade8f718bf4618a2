#!/bin/sh
# tests/check-scripts.sh MMSIM DIR — malformed and failing scenario scripts:
# each must end with its documented exit code (never a crash), and a script
# error must point at a line and column.
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
         repeat-too-deep; do
    expect_exit "$s.mms" 2
done
expect_exit expect-fails.mms 1
expect_exit repeat-fails.mms 1
expect_exit unexpected-bugcheck.mms 3
"$mmsim" run "$dir/does-not-exist.mms" >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: a missing file is exit 2"; status=1; }
"$mmsim" lab run ../etc/passwd >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: a lab name with a path is exit 2"; status=1; }
exit $status
