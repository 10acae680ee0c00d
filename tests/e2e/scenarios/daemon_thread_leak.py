# A daemon thread still running at exit, past the calls that acquired what
# it holds: a C function that leaked its view and returned, and a C holder
# object kept in the thread's frame. CPython never clears a daemon thread's
# frames, so the second is still reachable, and bufsan cannot tell the two
# apart: each is a leaked-export warning (not an error, not silence). The
# main thread's leak stays an error.
import threading
import time

import _bufsan_getargs as getargs
import _bufsan_mutators as mut

ready = threading.Event()


def worker():
    getargs.leak_ystar(bytearray(b"leaked"))  # BUG: leaked-export severity=warning thread=worker type=bytearray bytes=6 count=1
    h = mut.hold(bytearray(b"held by h"))  # BUG: leaked-export severity=warning thread=worker type=bytearray bytes=9 count=1
    ready.set()
    while True:
        time.sleep(0.01)


threading.Thread(target=worker, daemon=True).start()
ready.wait()
getargs.leak_ystar(bytearray(b"main"))  # BUG: leaked-export thread=main type=bytearray bytes=4 count=1
print("daemon_thread_leak done")
