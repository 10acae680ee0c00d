"""The per-thread stack cache must never give one extension function's
export the native frames of another: the same Python line calls sum_ystar,
leak_ystar and leak_ystar_twin (all PyArg_ParseTuple "y*", the same
interpreter site, frames of the same size), in both orders, with
stack_cache on and off. Each leak is reported once, naming its own function.

    test_stack_cache.py BUILD_DIR PYTHON"""
import json
import os
import subprocess
import sys
import tempfile

PROG = r'''
import _bufsan_getargs as g
calls = [(g.sum_ystar, 1), (g.leak_ystar, 2), (g.sum_ystar, 3), (g.leak_ystar_twin, 4)]
if ORDER:
    calls.reverse()
for _ in range(3):
    for f, n in calls:
        f(bytearray(n))
'''


def run(build, python, order, cache):
    with tempfile.TemporaryDirectory() as d:
        prog = os.path.join(d, "prog.py")
        with open(prog, "w") as f:
            f.write("ORDER = %d\n" % order + PROG)
        env = dict(os.environ, PYTHONPATH=os.path.join(build, "tests", "ext"),
                   LD_PRELOAD=os.path.join(build, "lib", "libbufsan.so"),
                   BUFSAN_OPTIONS="log_format=json:stack_cache=%d" % cache)
        p = subprocess.run([python, prog], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        recs = [json.loads(l) for l in p.stderr.splitlines() if l.startswith("{")]
        return p.returncode, [r for r in recs if r.get("kind") == "finding"]


def main():
    build, python = sys.argv[1], sys.argv[2]
    fails = 0
    for order in (0, 1):
        for cache in (1, 0):
            rc, findings = run(build, python, order, cache)
            got = {}
            for f in findings:
                natives = [fr["function"] for s in f["stacks"] if s["role"] == "acquire"
                           for fr in s["frames"] if fr["kind"] == "native"]
                got[f["bytes"]] = (f["check"], f["count"], natives[:1])
            want = {6: ("leaked-export", 3, ["getargs_leak_ystar"]),
                    12: ("leaked-export", 3, ["getargs_leak_ystar_twin"])}
            ok = rc == 66 and got == want
            print("order %d stack_cache=%d: status %d, %s -> %s" %
                  (order, cache, rc, got, "ok" if ok else "FAIL"))
            fails += not ok
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
