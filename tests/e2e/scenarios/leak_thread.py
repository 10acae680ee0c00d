# Leaks from the main thread and from a second thread: each acquire stack
# names its own thread.
import threading
import _bufsan_testext as testext


def worker():
    testext.leak(bytearray(b"worker"))  # BUG: leaked-export thread=worker bytes=6


testext.leak(bytearray(b"main thread"))  # BUG: leaked-export thread=main bytes=11
t = threading.Thread(target=worker)
t.start()
t.join()
print("leak_thread done")
