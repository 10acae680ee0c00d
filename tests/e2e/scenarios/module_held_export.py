# An extension module's initialization keeps an export in its state for
# the life of the process (a Cython module-level memoryview does): still
# reachable at exit, reported as a warning that does not fail the run. A
# function of the same module that drops a view is a leak, an error.
import _bufsan_modheld as modheld  # BUG: leaked-export severity=warning type=bytearray bytes=12 count=1 flags=0 at=acquire*

modheld.leak(bytearray(b"dropped"))  # BUG: leaked-export type=bytearray bytes=7 count=1 flags=0
print("module_held_export done", bytes(modheld.table))
