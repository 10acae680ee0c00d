# E2E: processes=2 compare_output=0
# fork_leak done right.
import os
import sys
import _bufsan_testext as testext

sys.stdout.flush()
pid = os.fork()
if pid == 0:
    testext.acquire_release(bytearray(b"child"))
    sys.exit(0)
_, status = os.waitpid(pid, 0)
print("child_pid=%d child_status=%d" % (pid, os.waitstatus_to_exitcode(status)))
testext.acquire_release(bytearray(b"parent!"))
