#!/bin/sh
# fuzz/oss-fuzz-build.sh — the fuzzers as OSS-Fuzz and ClusterFuzzLite
# build them (their build.sh runs this): compiled with the runner's $CC and
# $CFLAGS (sanitizers and coverage), linked with $LIB_FUZZING_ENGINE, and
# copied into $OUT with their seed corpora (<fuzzer>_seed_corpus.zip) and
# the driver mmsim-fuzz-sample loads from beside it. docs/fuzzing.md.
set -eu

: "${OUT:?OUT: the folder the fuzzers go to}"
: "${LIB_FUZZING_ENGINE:?LIB_FUZZING_ENGINE: how to link the fuzzing engine, e.g. -fsanitize=fuzzer}"
src=$(cd "$(dirname "$0")/.." && pwd)
build=${WORK:-${TMPDIR:-/tmp}}/mmsim-fuzz-build

# Static libraries: each fuzzer is one self-contained program, as the
# runners want. A plain build type: $CFLAGS choose optimization and debug
# information. Warnings do not stop a campaign's build. A build made with
# the same compiler and flags is reused (the test command runs this again).
env="CC=${CC:-} CFLAGS=${CFLAGS:-} LDFLAGS=${LDFLAGS:-} ENGINE=$LIB_FUZZING_ENGINE"
if [ ! -f "$build/build.ninja" ] || [ "$(cat "$build/oss-fuzz-env" 2>/dev/null)" != "$env" ]; then
    rm -rf "$build"
    meson setup "$build" "$src" --buildtype=plain -Ddefault_library=static -Dwerror=false \
        -Dtests=false -Ddocs=disabled -Db_lundef=false -Dfuzzing_engine="$LIB_FUZZING_ENGINE"
    echo "$env" >"$build/oss-fuzz-env"
fi

# fuzzer, then the folder of its seed corpus (from the source tree).
targets="fuzz/fuzz_script fuzz/corpus/script
fuzz/fuzz_api fuzz/corpus/api
fuzz/mmsim-fuzz-sample fuzz/corpus/driver
examples/fuzz-template/fuzz_template examples/fuzz-template/corpus"

# shellcheck disable=SC2046
ninja -C "$build" $(echo "$targets" | cut -d' ' -f1) fuzz/libmmsim_sample.so

mkdir -p "$OUT"
echo "$targets" | while read -r target corpus; do
    name=$(basename "$target")
    cp "$build/$target" "$OUT/$name"
    rm -f "$OUT/${name}_seed_corpus.zip"
    if command -v zip >/dev/null 2>&1; then
        zip -q -j "$OUT/${name}_seed_corpus.zip" "$src/$corpus"/*
    else
        python3 -m zipfile -c "$OUT/${name}_seed_corpus.zip" "$src/$corpus"/*
    fi
done
# The IOCTL sample, which mmsim-fuzz-sample loads from its own folder.
cp "$build/fuzz/libmmsim_sample.so" "$OUT/"
chmod 644 "$OUT/libmmsim_sample.so"
echo "oss-fuzz-build: fuzzers in $OUT:" $(echo "$targets" | cut -d' ' -f1 | xargs -n1 basename)
