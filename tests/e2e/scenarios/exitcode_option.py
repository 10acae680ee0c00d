# E2E: options=exitcode=7
# exitcode=7 replaces the default 66.
import _bufsan_testext as testext

testext.leak(b"seven")  # BUG: leaked-export bytes=5 type=bytes
