#!/bin/sh
# A Python without a matching core: one warning line, the program runs
# normally and keeps its exit status.
set -eu
build=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$build/lib/libbufsan.so" "$dir/"   # the loader alone, no core
set +e
LD_PRELOAD="$dir/libbufsan.so" /usr/bin/python3.11 -c 'print("ran"); raise SystemExit(3)' >"$dir/out" 2>"$dir/err"
status=$?
set -e
[ "$status" = 3 ] || { echo "FAIL: exit status $status"; exit 1; }
grep -qx ran "$dir/out" || { echo "FAIL: program did not run"; exit 1; }
[ "$(wc -l <"$dir/err")" = 1 ] || { cat "$dir/err"; echo "FAIL: expected one warning line"; exit 1; }
grep -q "WARNING: bufsan: this Python is not supported by this build" "$dir/err" || { cat "$dir/err"; exit 1; }
echo "unsupported interpreter OK"
