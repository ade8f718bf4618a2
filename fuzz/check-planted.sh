#!/bin/sh
# fuzz/check-planted.sh MMSIM_FUZZ PLANTED.so — mmsim-fuzz, from an empty
# corpus with a fixed seed and a bounded number of runs, must reach the
# planted double unlock of examples/drivers/planted and stop with its
# one-line signature (deterministic: the same seed takes the same path).
set -u
fuzz=$1
driver=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/corpus"
"$fuzz" "$driver" -seed=1 -runs=400000 -max_len=64 -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
    tail -n 20 "$dir/log"
    echo "check-planted: the fuzzer did not find the planted bug in 400000 runs"
    exit 1
fi
if ! grep -q '^mmsim: bugcheck 0x4E/0x7 in MmUnlockPages$' "$dir/log"; then
    tail -n 40 "$dir/log"
    echo "check-planted: the fuzzer stopped, but not with the planted bug's signature"
    exit 1
fi
grep -E '^#[0-9]+' "$dir/log" | tail -n 1
ls "$dir"/crash-* >/dev/null 2>&1 || { echo "check-planted: no crash input saved"; exit 1; }
echo "check-planted: found 0x4E/0x7 in MmUnlockPages; the input was saved"
