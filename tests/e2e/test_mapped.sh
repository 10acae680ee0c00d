#!/bin/sh
# The loader's mmap family: system-call errors keep their errno, and view
# arrays in the interpreter's arenas are read without a system call (the
# verbosity=1 stats count them).
set -eu
build=$1
python=${2:-/usr/bin/python3.11}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/prog.py" <<'PY'
import errno, mmap
try:
    mmap.mmap(-1, 1 << 62)
except OSError as e:
    assert e.errno == errno.ENOMEM, e
else:
    raise AssertionError("a 4 EiB mapping succeeded")
m = mmap.mmap(-1, 8192)
m[:3] = b"abc"
assert bytes(memoryview(m)[:3]) == b"abc"
m.close()
from _testbuffer import ndarray
for _ in range(100):
    nd = ndarray(list(range(12)), shape=[3, 4], format="i")
    memoryview(nd).release()
print("ok")
PY
LD_PRELOAD="$build/lib/libbufsan.so" BUFSAN_OPTIONS=verbosity=1 "$python" "$dir/prog.py" \
    >"$dir/out" 2>"$dir/err" || { cat "$dir/out" "$dir/err"; echo "FAIL: status $?"; exit 1; }
grep -qx ok "$dir/out" || { cat "$dir/err"; echo "FAIL: program did not finish"; exit 1; }
line=$(grep "stats: view reads" "$dir/err") || { cat "$dir/err"; echo "FAIL: no stats"; exit 1; }
mapped=$(echo "$line" | sed -n 's/.* \([0-9][0-9]*\) in mapped arenas.*/\1/p')
[ "${mapped:-0}" -ge 100 ] || { echo "$line"; echo "FAIL: expected >= 100 reads in mapped arenas"; exit 1; }
echo "mapped OK: $line"
