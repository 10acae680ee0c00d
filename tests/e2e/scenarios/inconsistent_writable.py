# An exporter answers readonly=0, then readonly=1 to plain requests while the
# first export is live.
import _bufsan_mutators as mut

flipper = mut.Mutant(16, "flip")
mut.acquire_twice(flipper)  # BUG: inconsistent-writable type=_bufsan_mutators.Mutant roles=acquire,other
print("inconsistent_writable done")
