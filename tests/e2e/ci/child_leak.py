# A subprocess leaks an export of a Python class and the parent ignores its
# exit status.
import subprocess
import sys


class Payload(bytearray):
    pass


if len(sys.argv) > 1 and sys.argv[1] == "child":
    import _bufsan_testext as testext
    testext.leak(Payload(b"child"))  # FINDING: leaked-export
    sys.exit(0)

status = subprocess.call([sys.executable, __file__, "child"])
print("child_leak child status", status)
