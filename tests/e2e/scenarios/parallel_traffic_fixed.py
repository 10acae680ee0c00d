# parallel_traffic without its two bugs: four threads churn exports at
# once, readers among them; every export is released once, nothing is
# reported.
import hashlib
import threading

import _bufsan_testext as testext

ROUNDS = 4000
start = threading.Barrier(4)


def churn():
    b = bytearray(64)
    start.wait()
    for i in range(ROUNDS):
        with memoryview(b) as m:
            m[0] = i & 0xFF
        if i % 50 == 0:
            hashlib.sha256(b).digest()
    exporter = testext.Exporter(8)
    with memoryview(exporter):
        pass


threads = [threading.Thread(target=churn) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("parallel_traffic_fixed done")
