#!/bin/sh
# The .deb of `cpack -G DEB`: what it holds, examples/demo.py through its
# launcher (exit 66 with the demo's findings), and its Python package:
# python3 -m bufsan run and pytest --bufsan (installed_python.sh). Unpacked with dpkg-deb -x
# into a scratch directory; with --dpkg-install, installed with dpkg -i and
# purged again (skipped, 77, unless root and no bufsan package is installed).
#   test_install_deb.sh BUILD_DIR SOURCE_DIR [--dpkg-install]
set -eu
build=$1
src=$2
mode=${3:-extract}
command -v cpack >/dev/null && command -v dpkg-deb >/dev/null || { echo "SKIP: no cpack or dpkg-deb"; exit 77; }
if [ "$mode" = --dpkg-install ]; then
    [ "$(id -u)" = 0 ] || { echo "SKIP: dpkg -i needs root"; exit 77; }
    if dpkg-query -W -f='${Status}' bufsan 2>/dev/null | grep -q installed; then
        echo "SKIP: a bufsan package is already installed"; exit 77
    fi
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/pkg") >"$tmp/cpack.log" 2>&1 ||
    { cat "$tmp/cpack.log"; echo "FAIL: cpack -G DEB"; exit 1; }
deb=$(ls "$tmp"/pkg/bufsan_*.deb)
dpkg-deb -c "$deb" >"$tmp/contents"
want="./usr/bin/bufsan ./usr/lib/bufsan/libbufsan.so ./usr/lib/bufsan/bufsan-tool
      ./usr/lib/bufsan/bufsan-report ./usr/lib/bufsan/bufsan_core-3.11.so ./usr/share/man/man1/bufsan.1"
[ -d "$src/python/bufsan" ] && want="$want ./usr/lib/python3/dist-packages/bufsan/__init__.py"
for f in $want; do
    grep -q " $f\$" "$tmp/contents" || { cat "$tmp/contents"; echo "FAIL: $f not in $deb"; exit 1; }
done

if [ "$mode" = --dpkg-install ]; then
    dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; echo "FAIL: dpkg -i"; exit 1; }
    trap 'dpkg -P bufsan >/dev/null 2>&1; rm -rf "$tmp"' EXIT
    root=
else
    dpkg-deb -x "$deb" "$tmp/root"
    root=$tmp/root
fi
launcher=$root/usr/bin/bufsan
out=$(LD_PRELOAD= "$launcher" /usr/bin/python3.11 -c 'import os; print(os.environ["LD_PRELOAD"])' 2>&1)
case "$out" in
"$root/usr/lib/bufsan/libbufsan.so"*) ;;
*) echo "FAIL: the launcher does not preload its own library: $out"; exit 1 ;;
esac
set +e
PYTHONPATH="$build/examples" "$launcher" /usr/bin/python3.11 "$src/examples/demo.py" >"$tmp/out" 2>&1
status=$?
set -e
for check in leaked-export release-decrefs-obj; do
    grep -q "ERROR: bufsan: $check" "$tmp/out" || { cat "$tmp/out"; echo "FAIL: demo: no $check"; exit 1; }
done
[ "$status" = 66 ] || { cat "$tmp/out"; echo "FAIL: demo: exit status $status, expected 66"; exit 1; }
if [ -d "$src/python/bufsan" ]; then
    got=$(cd "$tmp" && PYTHONPATH="$root/usr/lib/python3/dist-packages" /usr/bin/python3.11 -c 'import bufsan; print(bufsan.__file__)')
    case "$got" in
    "$root/usr/lib/python3/dist-packages/bufsan/"*) ;;
    *) echo "FAIL: the packaged Python package is not the one imported: $got"; exit 1 ;;
    esac
    # python3 -m bufsan run and pytest --bufsan from the package; after
    # dpkg -i, the system python3 as it is, with no PYTHONPATH for bufsan
    if [ -n "$root" ]; then
        sh "$(dirname "$0")/installed_python.sh" "$root/usr/lib/python3/dist-packages" \
            "$root/usr/lib/bufsan" /usr/bin/python3.11 "$build" "$src" "$tmp/work"
    else
        sh "$(dirname "$0")/installed_python.sh" "" /usr/lib/bufsan /usr/bin/python3 \
            "$build" "$src" "$tmp/work"
    fi
fi
echo "$(basename "$deb") ($mode): demo through $launcher: exit 66 with its findings"
