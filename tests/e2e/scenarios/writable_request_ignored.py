# An exporter grants a PyBUF_WRITABLE request with readonly=1.
import _bufsan_mutators as mut

exporter = mut.Mutant(16, "ignores_writable")
mut.acquire_writable(exporter)  # BUG: writable-request-ignored type=_bufsan_mutators.Mutant readonly=true flags=1
print("writable_request_ignored done")
