# Releases bufsan must not match to the wrong export. A C consumer holds a
# tracked export of a bytes object (PyBUF_FULL_RO) while another consumer's
# "y*" argument, filled inside the interpreter where bufsan does not look,
# is released at its call site (the zstandard pattern): the held export is
# neither compared with that view nor dropped. A consumer that copies its
# view to the heap and releases the copy (bitarray) while a memoryview of
# the same object is live: the copy matches its own export, not the
# memoryview's.
import _bufsan_getargs as ga
import _bufsan_mutators as mut

data = bytes(range(16))
h = mut.hold_flags(data, 0x11C)
print(ga.sum_ystar(data))
h.release()

buf = bytearray(8)
view = memoryview(buf)
h = mut.hold_copy(buf)
h.release()
view.release()
print("release_of_copy_fixed done")
