"""Trace timestamps come from the time stamp counter between clock readings
(src/trace/writer.c): they must still measure real time. A program makes
thousands of exports (so the counter's scale is known), then two exports
50 ms apart; the trace must put them 50 ms apart (within 45-90 ms).

    test_trace_clock.py BUILD_DIR PYTHON"""
import os
import re
import subprocess
import sys
import tempfile

PROG = r'''
import time
b = bytearray(12345)
for _ in range(3000):
    memoryview(b).release()
time.sleep(0.002)
for _ in range(3000):
    memoryview(b).release()
memoryview(b).release()
time.sleep(0.05)
memoryview(b).release()
'''


def main():
    build, python = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as d:
        prog = os.path.join(d, "prog.py")
        with open(prog, "w") as f:
            f.write(PROG)
        trace = os.path.join(d, "t")
        env = dict(os.environ, LD_PRELOAD=os.path.join(build, "lib", "libbufsan.so"),
                   BUFSAN_OPTIONS="trace=%s.%%p" % trace)
        subprocess.run([python, prog], env=env, check=True)
        files = [os.path.join(d, n) for n in os.listdir(d) if n.startswith("t.")]
        dump = subprocess.run([os.path.join(build, "lib", "bufsan-report"), "dump"] + files,
                              stdout=subprocess.PIPE, text=True, check=True).stdout
    times, exports = [], []
    for line in dump.splitlines():
        m = re.search(r" event t=\+([0-9.]+)us (\w+)", line)
        if not m:
            continue
        t = float(m.group(1))
        times.append(t)
        if m.group(2) == "export" and "v.len=12345 " in line:
            exports.append(t)
    gap_ms = (exports[-1] - exports[-2]) / 1000.0 if len(exports) >= 2 else -1
    print("%d events, %d exports of the test buffer, last gap %.2f ms" %
          (len(times), len(exports), gap_ms))
    ok = len(exports) == 6002 and 45.0 <= gap_ms <= 90.0
    print("ok" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
