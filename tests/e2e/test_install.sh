#!/bin/sh
# The launcher after `cmake --install`: it finds its libraries relative to
# itself, keeps an existing LD_PRELOAD and reports a leak with exit 66; the
# man page is installed; the demo gives its findings and 66; the installed
# Python package runs the demo and pytest --bufsan (installed_python.sh).
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
test -f "$prefix/share/man/man1/bufsan.1" || { echo "FAIL: no man page installed"; exit 1; }
if [ -d "$src/python/bufsan" ]; then
    ls "$prefix"/lib/python3/dist-packages/bufsan/*.py >/dev/null || { echo "FAIL: no Python package installed"; exit 1; }
fi
# examples/demo.py through the installed launcher: its findings, status 66
set +e
PYTHONPATH="$build/examples" "$prefix/bin/bufsan" /usr/bin/python3.11 "$src/examples/demo.py" >"$prefix/out" 2>&1
status=$?
set -e
for check in leaked-export release-decrefs-obj; do
    grep -q "ERROR: bufsan: $check" "$prefix/out" || { cat "$prefix/out"; echo "FAIL: demo: no $check"; exit 1; }
done
[ "$status" = 66 ] || { cat "$prefix/out"; echo "FAIL: demo: exit status $status, expected 66"; exit 1; }
# the installed Python package: python3 -m bufsan run, pytest --bufsan
if [ -d "$src/python/bufsan" ]; then
    sh "$(dirname "$0")/installed_python.sh" "$prefix/lib/python3/dist-packages" \
        "$prefix/lib/bufsan" /usr/bin/python3.11 "$build" "$src" "$prefix/work"
fi
echo "installed launcher OK"
