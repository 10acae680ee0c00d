# An exporter without a release slot (it counts no exports), held by a
# memoryview, then read by the interpreter's short-lived consumers (bytes(),
# bytearray()), whose Py_buffer lives on the C stack and whose
# release Debian's static interpreters inline or call directly: bufsan does
# not see that release, but checks the export against the memoryview's hold
# as the shared interpreter does.
import _bufsan_mutators as mut

store = mut.Store(64)
held = memoryview(store)
store.resize(4096)
copy = bytes(store)  # BUG: moved-while-exported type=_bufsan_mutators.Store roles=acquire,other at=other-2
held.release()

flag = mut.Store(16)
plain = memoryview(flag)
flag.readonly = 1
word = bytearray(flag)  # BUG: inconsistent-writable type=_bufsan_mutators.Store readonly=true roles=acquire,other at=other-2
plain.release()
print("short_lived_slotless done", len(copy), len(word))
