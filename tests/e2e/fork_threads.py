# Threads export and release buffers without pause while the main thread
# forks again and again: a child must never deadlock on a bufsan lock that
# another thread held at the moment of fork, and it starts with the parent's
# live exports (here: none leak, so nobody reports anything).
import os
import threading

stop = False


def churn():
    b = bytearray(64)
    while not stop:
        for _ in range(200):
            memoryview(b).release()


threads = [threading.Thread(target=churn, daemon=True) for _ in range(3)]
for t in threads:
    t.start()
# Live at every fork. In a child, the parent's other threads are gone and
# CPython leaks their frames (and what they reference, __main__'s globals
# included): the parent's live exports are not the child's leaks.
held = memoryview(bytearray(16))
try:
    for i in range(30):
        pid = os.fork()
        if pid == 0:
            b = bytearray(8)
            memoryview(b).release()
            if i % 2:
                os._exit(0)
            raise SystemExit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
finally:
    stop = True
    for t in threads:
        t.join()
held.release()
print("fork_threads done")
