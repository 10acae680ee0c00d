# E2E: options=writable_policy=strict
# readonly=1 to a plain request, yet PyBUF_WRITABLE granted: inconsistent
# under the stricter reading of the docs.
import _bufsan_mutators as mut

exporter = mut.Mutant(16, "ro_grants_writable")
mut.plain_then_writable(exporter)  # BUG: inconsistent-writable type=_bufsan_mutators.Mutant roles=acquire,other
print("inconsistent_writable_policy done")
