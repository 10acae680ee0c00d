# Daemon threads still holding buffers when the program ends: one inside
# hashlib.sha256 of a large bytearray (it hashes without the GIL), one in
# a `with memoryview(...)` loop. CPython stops them where they stand at
# finalization and never clears their frames: what they hold is no leak,
# and a correct program must end with status 0 and no finding.
import hashlib
import threading

data = bytearray(8 << 20)
started = [threading.Event(), threading.Event()]


def hasher():
    while True:
        hashlib.sha256(data)
        started[0].set()


def viewer():
    buf = bytearray(4096)
    while True:
        with memoryview(buf) as m:
            m[0] = 1
            started[1].set()


for target in (hasher, viewer):
    threading.Thread(target=target, daemon=True).start()
for e in started:
    e.wait()
print("daemon_threads done")
