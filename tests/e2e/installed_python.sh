#!/bin/sh
# The Python package of an install (cmake --install, the .deb) used as a
# user would: it finds the installed libraries and launcher
# (bufsan.libdir() is LIBDIR); `python3 -m bufsan run PYTHON demo.py` gives
# the demo's findings and 66; `python3 -m pytest --bufsan` on a leaky and a
# clean test loads the plugin through the installed pytest11 entry point
# (no -p), re-executes under the installed launcher and fails exactly the
# leaky test, the finding in pytest's short summary; the same with
# -p bufsan.pytest_plugin given too.
#   installed_python.sh SITE LIBDIR PYTHON BUILD_DIR SOURCE_DIR SCRATCH
# SITE: the installed dist-packages to put on PYTHONPATH; empty when the
# interpreter's own path has it (dpkg -i).
set -eu
site=$1
libdir=$2
py=$3
build=$4
src=$5
work=$6
path() { echo "$site${site:+:}$1"; }
run() {
    env -u BUFSAN_LIBDIR -u BUFSAN_OPTIONS -u LD_PRELOAD -u BUFSAN_PYTEST_REEXEC \
        -u PYTEST_ADDOPTS -u PYTEST_PLUGINS "$@"
}
mkdir -p "$work/tests"
cd "$work"

got=$(run PYTHONPATH="$site" "$py" -c 'import bufsan; print(bufsan.libdir())')
[ "$got" = "$(cd "$libdir" && pwd -P)" ] ||
    { echo "FAIL: bufsan.libdir() is '$got', expected the installed $libdir"; exit 1; }

set +e
run PYTHONPATH="$(path "$build/examples")" "$py" -m bufsan run "$py" "$src/examples/demo.py" \
    >"$work/demo.out" 2>&1
status=$?
set -e
for check in leaked-export release-decrefs-obj; do
    grep -q "ERROR: bufsan: $check" "$work/demo.out" ||
        { cat "$work/demo.out"; echo "FAIL: python3 -m bufsan run demo.py: no $check"; exit 1; }
done
[ "$status" = 66 ] ||
    { cat "$work/demo.out"; echo "FAIL: python3 -m bufsan run demo.py: exit status $status"; exit 1; }

cat >"$work/tests/test_installed.py" <<'EOF'
import _bufsan_testext as ext


def test_clean():
    assert ext.acquire_release(bytearray(b"abcd")) == 4


def test_leaky():
    ext.leak(bytearray(b"abcdefgh"))
EOF
set +e
run PYTHONPATH="$(path "$build/tests/ext")" COLUMNS=200 "$py" -m pytest --bufsan \
    -p no:cacheprovider tests >"$work/pytest.out" 2>&1
status=$?
set -e
grep -q "^FAILED tests/test_installed.py::test_leaky - bufsan: leaked-export: " "$work/pytest.out" &&
    grep -q " 1 failed, 1 passed " "$work/pytest.out" ||
    { cat "$work/pytest.out"; echo "FAIL: python3 -m pytest --bufsan: not exactly the leaky test failed"; exit 1; }
[ "$status" = 1 ] ||
    { cat "$work/pytest.out"; echo "FAIL: python3 -m pytest --bufsan: exit status $status, expected 1"; exit 1; }
# -p bufsan.pytest_plugin as well as the entry point: the plugin once
set +e
run PYTHONPATH="$(path "$build/tests/ext")" COLUMNS=200 "$py" -m pytest -p bufsan.pytest_plugin \
    --bufsan -p no:cacheprovider tests >"$work/pytest-p.out" 2>&1
status=$?
set -e
grep -q " 1 failed, 1 passed " "$work/pytest-p.out" && [ "$status" = 1 ] ||
    { cat "$work/pytest-p.out"; echo "FAIL: pytest -p bufsan.pytest_plugin --bufsan with the entry point installed: status $status"; exit 1; }
echo "installed Python package: python3 -m bufsan run and pytest --bufsan OK"
