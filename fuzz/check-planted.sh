#!/bin/sh
# fuzz/check-planted.sh MMSIM_FUZZ PLANTED.so DICT — mmsim-fuzz, from an
# empty corpus with a fixed seed and a bounded number of runs, must reach
# the planted double unlock of examples/drivers/planted and stop with its
# one-line signature. Deterministic: the same seed takes the same path, and
# address-space randomisation is off (value-profile features hash code
# addresses). DICT holds the driver's control codes, not the magic.
set -u
fuzz=$1
driver=$2
dict=$3
runs=1000000
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/corpus"
fixed=""
if command -v setarch >/dev/null 2>&1 && setarch "$(uname -m)" -R true 2>/dev/null; then
    fixed="setarch $(uname -m) -R"
fi
# shellcheck disable=SC2086
$fixed "$fuzz" "$driver" -seed=1 -runs=$runs -max_len=64 -use_value_profile=1 -dict="$dict" \
    -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
    tail -n 20 "$dir/log"
    echo "check-planted: the fuzzer did not find the planted bug in $runs runs"
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
