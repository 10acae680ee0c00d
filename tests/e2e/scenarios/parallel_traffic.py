# Four threads churn exports at once (really in parallel on a free-threaded
# build, where the engine is split into shards by exporter), readers among
# them (hashlib: watched exports, which lock the whole engine while they
# live), and amid that traffic one thread leaks an export and another
# releases a view twice: each is found once, on its own line and thread.
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


def leaker():
    churn()
    testext.leak(bytearray(b"leaked in a thread"))  # BUG: leaked-export thread=leaker bytes=18


def twice():
    churn()
    testext.release_twice_via_copy(testext.Exporter(8))  # BUG: release-unknown roles=release,earlier-release native=testext_release_twice_via_copy thread=twice


threads = [threading.Thread(target=f) for f in (churn, leaker, twice, churn)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("parallel_traffic done")
