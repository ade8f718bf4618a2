#!/bin/sh
# tests/check-layers.sh [SRCDIR] — the model's layers go one way: a file of
# libmm may include only headers of its own layer or one below. The layers,
# bottom first (docs/model.md, "Layers"):
#   0 data structures   bitmap store vad hash alloc.h arena workset.h host/memfile host/dormant
#   1 the machine       machine.h layout alloc bugcheck trace process.h proctable
#   2 frames and tables pfn pagefile pte tlb syspte workset.c
#   3 memory, paging  memory paging irql
#   4 -
#   5 faults, objects   fault pool virtual section image kstack physical
#   6 MDLs, processes   mdl mdladjust mdlmap mdlpages resmap irp process.c
#   7 views, host view  query invariants host/hostmmu host/hostimage
#   8 creation          machine.c snapshot
# machine.h gathers every module's state, so it may include any data header.
src=${1:-$(dirname "$0")/..}
levels="bitmap:0 arena:0 arena.h:0 store:0 vad:0 hash:0 alloc.h:0 host/memfile:0 memfile:0 host/dormant:0 dormant:0 status:0 workset.h:0
machine.h:1 layout:1 alloc:1 bugcheck:1 trace:1 process.h:1 proctable:1
pfn:2 pagefile:2 pte:2 tlb:2 syspte:2 workset:2
memory:3 paging:3 irql:3
fault:5 pool:5 virtual:5 section:5 image:5 kstack:5 physical:5
mdl:6 mdladjust:6 mdlmap:6 mdlpages:6 resmap:6 irp:6 process.c:6
query:7 invariants:7 host/hostmmu:7 hostmmu:7 host/hostimage:7 hostimage:7
machine.c:8 snapshot:8"
level() { # exact file name first, then the module name
    for p in $levels; do [ "${p%%:*}" = "$1" ] && { echo "${p##*:}"; return; }; done
    for p in $levels; do [ "${p%%:*}" = "$2" ] && { echo "${p##*:}"; return; }; done
    echo "?"
}
status=0
for f in "$src"/libmm/*.c "$src"/libmm/*.h "$src"/libmm/host/*.c "$src"/libmm/host/*.h; do
    [ -f "$f" ] || continue
    name=${f#"$src"/libmm/}
    [ "$name" = machine.h ] && continue
    mine=$(level "$name" "${name%.*}")
    if [ "$mine" = "?" ]; then echo "FAIL libmm/$name has no layer (add it to $0)"; status=1; continue; fi
    for inc in $(sed -n 's/^#include "\(\.\.\/\)\{0,1\}\([a-z/]*\)\.h".*/\2/p' "$f"); do
        case $inc in mm/*) continue ;; esac
        [ "$inc" = "${name%.*}" ] && continue
        theirs=$(level "$inc.h" "$inc")
        if [ "$theirs" = "?" ] || [ "$theirs" -gt "$mine" ]; then
            echo "FAIL libmm/$name (layer $mine) includes $inc.h (layer $theirs)"
            status=1
        fi
    done
done
[ $status = 0 ] && echo "ok: every include in libmm goes down or sideways"
exit $status
