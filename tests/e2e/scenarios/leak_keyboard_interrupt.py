# E2E: status=-2
# A program that leaks and ends by an uncaught KeyboardInterrupt: CPython
# finalizes and kills itself with SIGINT. The leak is still reported and
# the process still dies by SIGINT (its own status, kept).
import _bufsan_testext as testext

testext.leak(bytearray(b"interrupted"))  # BUG: leaked-export bytes=11 type=bytearray
print("leak_keyboard_interrupt done", flush=True)
raise KeyboardInterrupt
