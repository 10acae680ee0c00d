# mutated_while_shared done right: the reader releases before the writer
# writes; and the holder's own writes are its business: a C call that
# writes through a second, writable export of what it reads, a consumer
# granted readonly=0 that writes its own hold, a Python callback writing
# while the C call that holds the reader is still running. Writing through
# a memoryview is no finding either: a memoryview's hold on its base is not
# a reader's (it asks PyBUF_FULL_RO, then writes), nor is the source of a
# memoryview slice assignment.
import _bufsan_mutators as mut

data = bytearray(b"hello world")
mut.share_then_write(data)
mut.share_and_write(data)
mut.write_own(data)


def poke(obj):
    obj[0] ^= 0xFF
    memoryview(obj)[1] = ord("X")
    mut.write_through(obj)


mut.hold_and_call(data, poke)
h = mut.hold(data)
h.release()
data[3] ^= 0xFF
# a holder seen writing what it holds is a mutable view (a cffi
# from_buffer cdata written through), not a reader
h = mut.hold(data)
h.poke()
data[4] ^= 0xFF
h.release()
# a view object over the memory (as bitarray(buffer=data)) is a mutable
# view, not a reader: its owner's writes and its own are expected
v = mut.View(data)
data[2] ^= 0xFF
v.poke()
memoryview(v)[1] = ord("Y")
del v
view = memoryview(data)
view[0] = ord("J")
view.release()
with memoryview(data) as view:
    view[1:3] = b"EL"
    mut.read_readonly(data)
    # slice assignment reads its source while writing an overlapping range
    view[0:3] = view[2:5]
# a non-contiguous view copied into a fresh bytes through a read-only view
print(memoryview(bytearray(b"abcdef"))[::2].tobytes())
print("mutated_while_shared_fixed done", bytes(data))
