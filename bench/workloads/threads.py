"""M6: memoryview(bytearray(64)) create+release in 1 thread, then in 2
threads at once (each its own bytearray); prints the throughput with 2
threads divided by that with 1 (1.0: serialised; 2.0: perfectly parallel).
Meant for a free-threaded interpreter.
    threads.py [N]"""
import sys
import threading
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200000


def work():
    b = bytearray(64)
    for _ in range(N):
        with memoryview(b):
            pass


def throughput(k):
    ts = [threading.Thread(target=work) for _ in range(k)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return k * N / (time.perf_counter() - t0)


work()  # warm up (specialization, stack caches)
print("%.3f" % (throughput(2) / throughput(1)))
