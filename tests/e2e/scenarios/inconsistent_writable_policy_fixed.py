# E2E: options=writable_policy=strict
# inconsistent_writable_policy done right: a read-only exporter refuses
# PyBUF_WRITABLE, a writable one answers readonly=0 to everyone.
import _bufsan_mutators as mut

print(mut.plain_then_writable(mut.Mutant(16, "readonly")))
print(mut.plain_then_writable(mut.Mutant(16, "stable")))
print("inconsistent_writable_policy_fixed done")
