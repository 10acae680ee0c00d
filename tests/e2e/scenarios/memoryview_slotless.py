# An exporter without a release slot (it counts no exports) held by
# memoryviews, the interpreter's own consumer: it moves its memory, then
# changes its read-only answer, while a memoryview still holds it. Seen on
# every interpreter: where PyBuffer_Release is bound inside the executable
# (Debian's static pythons), at the memoryview's release paths.
import _bufsan_mutators as mut

store = mut.Store(64)
first = memoryview(store)
store.resize(4096)
second = memoryview(store)  # BUG: moved-while-exported type=_bufsan_mutators.Store roles=acquire,other at=other-2
first.release()
second.release()

flag = mut.Store(16)
plain = memoryview(flag)
flag.readonly = 1
other = memoryview(flag)  # BUG: inconsistent-writable type=_bufsan_mutators.Store readonly=true roles=acquire,other at=other-2
print("memoryview_slotless done", plain.readonly, other.readonly)
