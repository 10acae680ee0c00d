# short_lived_slotless done right: the interpreter's short-lived consumers
# read an exporter without a release slot while a memoryview holds it, and
# the exporter moves or changes its read-only answer only once the
# memoryview is gone. Nothing is reported, none of these exports is taken
# for a leak.
import struct

import _bufsan_mutators as mut

store = mut.Store(64)
held = memoryview(store)
copy = bytes(store)
joined = b"".join([store, store])
word = struct.unpack_from("i", store)
held.release()
store.resize(4096)
again = bytes(store)

flag = mut.Store(16)
plain = memoryview(flag)
before = bytes(flag)
plain.release()
print("short_lived_slotless_fixed done", len(copy), len(joined), word, len(again), len(before))
