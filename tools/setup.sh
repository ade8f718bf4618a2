#!/bin/sh
# mmsim set-up: installs what is missing (Debian packages), builds, and runs
# either the demo lab ("demo") or the whole test suite in a normal and an
# ASan+UBSan build ("test"; it also needs Graphviz and Chromium, for the
# pictures and the HTML report, Doxygen for the API reference, and an arm64
# cross compiler, qemu-user and arm64 CMocka for the arm64 leg).
# Idempotent: does nothing it does not need to.
set -eu

usage() { echo "usage: tools/setup.sh demo|test|build" >&2; exit 2; }

# Runs a command quietly; on failure shows its output (the compiler's errors).
quietly() {
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}
quiet_ninja() { quietly ninja "$@"; }
[ $# -ge 1 ] || usage
job=$1; shift

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

packages="meson ninja-build pkg-config libcmocka-dev uthash-dev"
# The test suite also draws pictures (Graphviz) and opens the HTML report
# in a headless browser (Chromium).
[ "$job" = test ] && packages="$packages graphviz chromium"
# The API reference (Doxygen), and the arm64 leg: Debian's cross compiler,
# qemu-user to run the tests, and CMocka for arm64 from multiarch (which
# needs the arm64 architecture added).
[ "$job" = test ] && packages="$packages doxygen gcc-aarch64-linux-gnu qemu-user libcmocka-dev:arm64"
# clang 19 compiles a test driver whose sections are named with WDK's
# #pragma alloc_text / data_seg (older clang and gcc ignore those pragmas).
# AFL++ builds and runs the fuzzers with -Dfuzzing=afl; it brings clang,
# whose libFuzzer the OSS-Fuzz build uses.
[ "$job" = test ] && packages="$packages clang-19 afl++"
missing=""
if command -v dpkg-query >/dev/null 2>&1; then
    for p in $packages; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
            missing="$missing $p"
        fi
    done
fi
add_arch=""
case "$missing" in
*:arm64*) dpkg --print-foreign-architectures | grep -qx arm64 || add_arch="dpkg --add-architecture arm64 && " ;;
esac
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "mmsim needs:$missing" >&2
        echo "run as root:  ${add_arch}apt-get update && apt-get install -y$missing" >&2
        exit 1
    fi
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    [ -z "$add_arch" ] || dpkg --add-architecture arm64
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
fi

configure() { # dir, extra meson args...
    dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >/dev/null
    fi
}

case "$job" in
demo)
    configure build
    ninja -C build >/dev/null
    exec ./build/sim/mmsim "$@"
    ;;
build)
    configure build
    ninja -C build
    ;;
test)
    configure build
    ninja -C build
    meson test -C build --print-errorlogs "$@"
    # The API reference from the header comments: any Doxygen warning fails.
    # (A build dir made before Doxygen was installed learns of it first.)
    ninja -C build -t query docs >/dev/null 2>&1 || meson setup --reconfigure build >/dev/null
    quiet_ninja -C build docs
    configure build-asan -Db_sanitize=address,undefined -Db_lundef=false
    ninja -C build-asan
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        meson test -C build-asan --print-errorlogs "$@"
    # The release build (-O3) compiles, warnings as errors.
    configure build-release --buildtype=release -Dtests=false
    quiet_ninja -C build-release
    # Strict ISO C11 (-pedantic, warnings as errors) with gcc, and with clang
    # when it is installed.
    configure build-pedantic -Dc_args=-pedantic -Dtests=false
    quiet_ninja -C build-pedantic
    if command -v clang >/dev/null 2>&1; then
        CC=clang configure build-clang -Dc_args=-pedantic -Dtests=false
        quiet_ninja -C build-clang
    else
        echo "mmsim: clang is not installed: the clang build is skipped"
    fi
    fuzzing=""
    # libFuzzer (-Dfuzzing=libfuzzer, no sanitizer: the fastest runs):
    # mmsim-fuzz must find the planted bug from an empty corpus with a fixed
    # seed (fuzz/check-planted.sh).
    if command -v clang >/dev/null 2>&1; then
        CC=clang configure build-libfuzzer -Dfuzzing=libfuzzer -Dtests=false
        quiet_ninja -C build-libfuzzer
        meson test -C build-libfuzzer --print-errorlogs --suite fuzz
        fuzzing="; libFuzzer found the planted bug"
    else
        echo "mmsim: clang is not installed: the libFuzzer build is skipped"
    fi
    # AFL++ (-Dfuzzing=afl): mmsim-fuzz and the planted driver built with
    # afl-clang-fast, then afl-fuzz runs them for a few seconds.
    if command -v afl-clang-fast >/dev/null 2>&1 && command -v afl-fuzz >/dev/null 2>&1; then
        export AFL_QUIET=1
        CC=afl-clang-fast configure build-afl -Dfuzzing=afl -Dtests=false
        quiet_ninja -C build-afl fuzz/mmsim-fuzz examples/drivers/libmmsim_planted.so
        rm -rf build-afl/findings
        AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
            quietly afl-fuzz -V 5 -i fuzz/corpus/driver -o build-afl/findings \
            -- build-afl/fuzz/mmsim-fuzz build-afl/examples/drivers/libmmsim_planted.so
        execs=$(sed -n 's/^execs_done *: *//p' build-afl/findings/default/fuzzer_stats)
        [ "${execs:-0}" -gt 0 ] || { echo "mmsim: afl-fuzz ran no input" >&2; exit 1; }
        fuzzing="$fuzzing; afl-fuzz ran mmsim-fuzz $execs times in 5 s"
        unset AFL_QUIET
    else
        echo "mmsim: AFL++ is not installed: the AFL build is skipped"
    fi
    # The OSS-Fuzz / ClusterFuzzLite build (fuzz/oss-fuzz-build.sh) in the
    # environment those runners give it (libFuzzer, ASan), then two of its
    # fuzzers, from their folder alone, briefly on their seed corpora.
    if command -v clang >/dev/null 2>&1; then
        CC=clang CFLAGS='-O1 -g -fsanitize=address,fuzzer-no-link' LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
            OUT="$top/build-oss-fuzz/out" WORK="$top/build-oss-fuzz" quietly sh fuzz/oss-fuzz-build.sh
        for fuzzer in mmsim-fuzz-sample fuzz_template; do
            rm -rf "build-oss-fuzz/seeds-$fuzzer"
            python3 -m zipfile -e "build-oss-fuzz/out/${fuzzer}_seed_corpus.zip" "build-oss-fuzz/seeds-$fuzzer"
            (cd / && quietly "$top/build-oss-fuzz/out/$fuzzer" -runs=200 -seed=1 "$top/build-oss-fuzz/seeds-$fuzzer")
        done
        fuzzing="$fuzzing; the OSS-Fuzz build's fuzzers run"
    else
        echo "mmsim: clang is not installed: the OSS-Fuzz build is skipped"
    fi
    # The portable heap store (hosts without a shared memory file).
    configure build-heap -Dmemfile=disabled
    ninja -C build-heap
    meson test -C build-heap --print-errorlogs --suite unit "$@"
    # arm64 Linux: Debian's cross compiler, every suite that runs the arm64
    # programs themselves (unit, examples, fuzz corpora, labs) under
    # qemu-user (tools/cross/aarch64-linux-gnu.ini). The "sim" and "build"
    # suites are host scripts around the native build and are left out. The
    # heap store: qemu-user 7.2 tracks every guest page of a mapping, and the
    # memory file maps the whole page file at once (8 TiB for the largest).
    logs="build/meson-logs/testlog.json build-asan/meson-logs/testlog.json build-heap/meson-logs/testlog.json"
    legs="normal, ASan+UBSan, heap-store"
    if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 && command -v qemu-aarch64 >/dev/null 2>&1; then
        configure build-arm64 --cross-file tools/cross/aarch64-linux-gnu.ini -Dmemfile=disabled
        quiet_ninja -C build-arm64
        meson test -C build-arm64 --print-errorlogs --no-suite sim --no-suite build "$@"
        logs="$logs build-arm64/meson-logs/testlog.json"
        legs="$legs and arm64 (qemu-user)"
    else
        echo "mmsim: no arm64 cross compiler or qemu-user: the arm64 leg is skipped"
    fi
    echo "mmsim: all tests passed in the $legs builds; the release and -pedantic (gcc, clang) builds compile$fuzzing"
    # shellcheck disable=SC2086
    passed=$(cat $logs | grep -c '"result": "\(OK\|EXPECTEDFAIL\)"')
    echo "tests: $passed passed, 0 failed"
    ;;
*) usage ;;
esac
