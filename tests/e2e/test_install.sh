#!/bin/sh
# The launcher after `cmake --install`: it finds its libraries relative to
# itself, keeps an existing LD_PRELOAD and reports a leak with exit 66.
set -eu
build=$1
src=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
test -x "$prefix/bin/bufsan"
out=$(LD_PRELOAD=libm.so.6 "$prefix/bin/bufsan" /usr/bin/python3.11 -c 'import os; print(os.environ["LD_PRELOAD"])' 2>&1)
case "$out" in
*"$prefix/lib/bufsan/libbufsan.so:libm.so.6"*) ;;
*) echo "FAIL: LD_PRELOAD not kept: $out"; exit 1 ;;
esac
set +e
"$prefix/bin/bufsan" /usr/bin/python3.11 "$src/tests/e2e/scenarios/ctypes_leak.py" 2>"$prefix/err"
status=$?
set -e
grep -q "ERROR: bufsan: leaked-export" "$prefix/err" || { cat "$prefix/err"; echo "FAIL: no leak report"; exit 1; }
[ "$status" = 66 ] || { echo "FAIL: exit status $status, expected 66"; exit 1; }
echo "installed launcher OK"
