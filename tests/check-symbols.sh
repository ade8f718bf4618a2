#!/bin/sh
# The shared library exports the public mm_ API and nothing else.
set -eu
lib=$1
leaks=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^mm_' || true)
count=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ && $3 ~ /^mm_/' | wc -l)
if [ -n "$leaks" ]; then
    echo "symbols exported without the mm_ prefix:"
    echo "$leaks"
    exit 1
fi
if [ "$count" -lt 40 ]; then
    echo "only $count mm_ symbols exported: the public API is missing"
    exit 1
fi
echo "$count mm_ symbols exported, no others"
