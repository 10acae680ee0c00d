# writable_request_ignored done right: a read-only exporter fails the
# PyBUF_WRITABLE request with BufferError.
import _bufsan_mutators as mut

print("writable_request_ignored_fixed done", mut.acquire_writable(mut.Mutant(16, "readonly")))
