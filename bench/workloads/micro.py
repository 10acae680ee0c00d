"""The micro workloads, one per run: `micro.py NAME SCALE` runs NAME's loop
(sized by SCALE) after a warm-up and prints the loop's wall time in seconds.
Start-up is not measured: the ratios compare the buffer traffic itself."""
import sys
import time


def m1(scale):
    """memoryview(bytearray(64)) create+release: pure Python traffic."""
    b = bytearray(64)
    n = 500000 * scale
    t = time.perf_counter()
    for _ in range(n):
        memoryview(b).release()
    return time.perf_counter() - t


def m2(scale):
    """A C consumer acquiring/releasing small buffers (bytearray and bytes)."""
    import _bufsan_bench
    ba, by = bytearray(64), bytes(64)
    n = 200000 * scale
    t = time.perf_counter()
    _bufsan_bench.consume(ba, n)
    _bufsan_bench.consume(by, n)
    return time.perf_counter() - t


def m3(scale):
    """hashlib.sha256 over a 1 MiB bytearray (a reader)."""
    import hashlib
    data = bytearray(b"x" * (1 << 20))
    t = time.perf_counter()
    for _ in range(50 * scale):
        hashlib.sha256(data).digest()
    return time.perf_counter() - t


def m4(scale):
    """bytes(bytearray(1 MiB)) and b"".join of many memoryviews."""
    big = bytearray(1 << 20)
    parts = [memoryview(bytearray(b"y" * 64)) for _ in range(1000)]
    t = time.perf_counter()
    for _ in range(200 * scale):
        bytes(big)
        b"".join(parts)
    return time.perf_counter() - t


def m5(scale):
    """numpy: small-array operations that export buffers."""
    import numpy as np
    raw = bytearray(256)
    t = time.perf_counter()
    for _ in range(20000 * scale):
        a = np.frombuffer(raw, dtype=np.uint8)
        m = memoryview(a)
        np.asarray(m).sum()
        a.tobytes()
    return time.perf_counter() - t


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def live(scale):
    """Memory per live export: 100,000 x SCALE memoryviews of one bytearray
    held at once. Prints how much the resident set grew while they were
    made, in bytes (no warm-up: records recycled from a first loop would
    cost nothing new); the bench subtracts the run without bufsan."""
    b = bytearray(64)
    n = 100000 * scale
    views = [None] * n
    before = rss_bytes()
    for i in range(n):
        views[i] = memoryview(b)
    return rss_bytes() - before


if __name__ == "__main__":
    name, scale = sys.argv[1], int(sys.argv[2])
    fn = globals()[name]
    if name == "live":
        print(fn(scale))
        sys.exit(0)
    fn(1 if scale > 1 else scale)  # warm-up: caches, depot, imports
    print("%.6f" % fn(scale))
