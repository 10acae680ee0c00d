# E2E: status=-2
# A program that leaks and is interrupted by a real SIGINT while it waits:
# the leak is reported and the process dies by SIGINT, as without bufsan.
import os
import signal
import time
import _bufsan_testext as testext

testext.leak(bytearray(b"signalled"))  # BUG: leaked-export bytes=9 type=bytearray
print("leak_sigint done", flush=True)
os.kill(os.getpid(), signal.SIGINT)
time.sleep(30)
