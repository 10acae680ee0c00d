# E2E: processes=2 compare_output=0
# A forked child leaks and exits normally; the parent waits, then leaks too.
# Each process reports its own leak, in its own log file.
import os
import sys
import _bufsan_testext as testext

sys.stdout.flush()
pid = os.fork()
if pid == 0:
    testext.leak(bytearray(b"child"))  # BUG: leaked-export process=child bytes=5 type=bytearray
    sys.exit(0)
_, status = os.waitpid(pid, 0)
print("child_pid=%d child_status=%d" % (pid, os.waitstatus_to_exitcode(status)))
testext.leak(bytearray(b"parent!"))  # BUG: leaked-export process=parent bytes=7 type=bytearray
