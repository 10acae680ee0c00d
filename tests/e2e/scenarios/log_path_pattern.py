# E2E: log_path=.%p.jsonl
# A %p in log_path is replaced by the pid (no .<pid> suffix then).
import _bufsan_testext as testext

testext.leak(b"pattern")  # BUG: leaked-export bytes=7 type=bytes
