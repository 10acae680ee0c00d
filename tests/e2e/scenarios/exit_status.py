# E2E: status=3
# A program that leaks and exits with its own status: the status is kept.
import sys
import _bufsan_testext as testext

testext.leak(bytearray(b"abc"))  # BUG: leaked-export bytes=3 type=bytearray
sys.exit(3)
