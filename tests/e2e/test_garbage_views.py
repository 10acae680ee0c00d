#!/usr/bin/python3.11
"""The guarded-read rule, end to end: an exporter returning every kind of
garbage view (_bufsan_garbage) is consumed with every request type, with
and without PyBUF_WRITABLE, under bufsan. Each kind must give its findings
and the program must end with its own exit status (3), never a signal.

usage: test_garbage_views.py BUILD_DIR PYTHON
"""
import json
import os
import subprocess
import sys
import tempfile

OWN_STATUS = 3
REQUESTS = {
    "SIMPLE": 0x0, "FORMAT": 0x4, "ND": 0x8, "STRIDES": 0x18, "C_CONTIGUOUS": 0x38,
    "F_CONTIGUOUS": 0x58, "ANY_CONTIGUOUS": 0x98, "INDIRECT": 0x118, "RECORDS_RO": 0x1c,
    "FULL_RO": 0x11c, "CONTIG_RO": 0x8, "STRIDED_RO": 0x18,
}
PROGRAM = r"""
import sys
import _bufsan_garbage as g
kind = sys.argv[1]
flags = [int(f, 0) for f in sys.argv[2].split(",")]
obj = g.Garbage(kind)
for f in flags:
    g.consume(obj, f)
    g.consume(obj, f | 1)   # with PyBUF_WRITABLE
g.consume_reusing(obj, 0x8)
print("garbage", kind, "done")
sys.exit(%d)
""" % OWN_STATUS


def main():
    build, python = sys.argv[1], sys.argv[2]
    ext = os.path.join(build, "tests", "ext")
    loader = os.path.join(build, "lib", "libbufsan.so")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON") and k not in ("LD_PRELOAD", "BUFSAN_OPTIONS")}
    env["PYTHONPATH"] = ext
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    kinds = subprocess.run([python, "-c", "import _bufsan_garbage as g; print(*g.kinds())"],
                           env=env, capture_output=True, text=True, check=True).stdout.split()
    flags = ",".join(hex(v) for v in REQUESTS.values())
    failures = []
    with tempfile.TemporaryDirectory(prefix="bufsan-garbage-") as tmp:
        prog = os.path.join(tmp, "garbage.py")
        with open(prog, "w") as f:
            f.write(PROGRAM)
        for kind in kinds:
            base = subprocess.run([python, prog, kind, flags], env=env, capture_output=True,
                                  text=True, timeout=120)
            if base.returncode != OWN_STATUS:
                failures.append("%s: without bufsan the program ended with %d:\n%s"
                                % (kind, base.returncode, base.stderr[-2000:]))
                continue
            log = os.path.join(tmp, "log-" + kind)
            e = dict(env, LD_PRELOAD=loader,
                     BUFSAN_OPTIONS="log_format=json:log_path=%s.%%p" % log)
            r = subprocess.run([python, prog, kind, flags], env=e, capture_output=True,
                               text=True, timeout=120)
            where = "%s under bufsan" % kind
            if r.returncode < 0:
                failures.append("%s: killed by signal %d\n%s" % (where, -r.returncode, r.stderr[-3000:]))
                continue
            if r.returncode != OWN_STATUS:
                failures.append("%s: exit status %d, expected the program's own %d\n%s"
                                % (where, r.returncode, OWN_STATUS, r.stderr[-3000:]))
            if ("garbage %s done" % kind) not in r.stdout:
                failures.append("%s: the program did not run to its end" % where)
            checks = []
            for name in os.listdir(tmp):
                if name.startswith("log-%s." % kind):
                    with open(os.path.join(tmp, name)) as f:
                        for line in f:
                            rec = json.loads(line)
                            if rec.get("kind") == "finding":
                                checks.append(rec["check"])
            if kind == "ok":
                if checks:
                    failures.append("%s: findings for a correct exporter: %s" % (where, checks))
            elif "bad-view-fields" not in checks:
                failures.append("%s: no bad-view-fields (findings: %s)" % (where, sorted(set(checks))))
            if "consumer-modified-view" in checks:
                failures.append("%s: consumer-modified-view blamed on a consumer that touched "
                                "nothing" % where)
            print("%-22s rc=%d findings=%s" % (kind, r.returncode, sorted(set(checks))))
    for f in failures:
        print("FAIL: " + f)
    print("%s garbage views under %s" % ("FAIL" if failures else "PASS", python))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
