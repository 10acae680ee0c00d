# inconsistent_writable done right: the same answer every time. An exporter
# answering readonly=1 to plain requests and granting PyBUF_WRITABLE is
# consistent under the default writable_policy.
import _bufsan_mutators as mut

mut.acquire_twice(mut.Mutant(16, "stable"))
mut.acquire_twice(mut.Mutant(16, "readonly"))
print("inconsistent_writable_fixed done", mut.plain_then_writable(mut.Mutant(16, "ro_grants_writable")))
