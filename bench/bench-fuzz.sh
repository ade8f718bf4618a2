#!/bin/sh
# bench/bench-fuzz.sh MMSIM_FUZZ DRIVER.so CORPUS — executions per second
# of mmsim-fuzz on a 10-request input (the IOCTL sample's one-request
# corpus inputs, one after another): in one process, restoring the
# machine's snapshot per input, beside the same input run as a fresh
# process per execution (fork + exec, the machine made and the driver
# loaded each time), measured in the same run.
set -eu
fuzz=$1
driver=$2
corpus=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in buffered in-direct out-direct neither short-output buffered in-direct out-direct neither unknown-code; do
    cat "$corpus/$f"
done >"$tmp/ten"
now() { date +%s%N; }
inputs=3000
i=0
while [ $i -lt $inputs ]; do echo "$tmp/ten"; i=$((i + 1)); done >"$tmp/list"
"$fuzz" "$driver" "$tmp/ten" >/dev/null 2>&1 # warm the page cache
t0=$(now)
xargs "$fuzz" "$driver" <"$tmp/list" >/dev/null
t1=$(now)
# A campaign: libFuzzer mutating from that input (in memory, no file read
# per execution), a fixed seed and number of executions; a build without
# libFuzzer (a replay main) has none.
runs=0
t4=0
t5=1
if "$fuzz" "$driver" -help=1 2>&1 | grep -q -- '-runs'; then
    mkdir "$tmp/seed"
    cp "$tmp/ten" "$tmp/seed/"
    runs=100000
    t4=$(now)
    "$fuzz" "$driver" -runs=$runs -seed=1 "$tmp/seed" >/dev/null 2>&1
    t5=$(now)
fi
forks=100
i=0
t2=$(now)
while [ $i -lt $forks ]; do
    "$fuzz" "$driver" "$tmp/ten" >/dev/null
    i=$((i + 1))
done
t3=$(now)
awk -v n="$inputs" -v a="$t0" -v b="$t1" -v f="$forks" -v c="$t2" -v d="$t3" -v r="$runs" -v e="$t4" -v g="$t5" 'BEGIN {
    inproc = n / ((b - a) / 1e9); forked = f / ((d - c) / 1e9); campaign = r / ((g - e) / 1e9);
    printf "mmsim-fuzz, 10-request input (the IOCTL sample)\n";
    printf "%-44s %14s %14s %9s\n", "figure", "value", "floor", "ratio";
    printf "%-44s %11.0f /s %11.0f /s %8.1fx\n", "executions, snapshot restored per input", inproc, forked, inproc / forked;
    if (r)
        printf "%-44s %11.0f /s %11.0f /s %8.1fx\n", "a campaign from it (100,000 runs, -seed=1)", campaign, forked, campaign / forked;
    else
        printf "(no campaign: this mmsim-fuzz is built without libFuzzer)\n";
    printf "(floor: the same input as a fresh process per execution, fork + exec%s)\n",
        r ? ";\n the campaign includes its start-up, about 0.1 s" : "";
}'
