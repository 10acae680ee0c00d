# A C consumer keeps a reader's export (PyBUF_SIMPLE) of a bytearray after
# the call that took it returned, and someone else changes the bytes: the
# owner through item assignment, through a memoryview, through a writable
# export another C call takes; and another thread while a C consumer reads
# with the GIL released. Each finding's first stack is the write.
import threading
import time

import _bufsan_mutators as mut

data = bytearray(b"hello world")
h = mut.hold(data)
data[3] ^= 0xFF  # BUG: mutated-while-shared type=bytearray readonly=false flags=0 roles=writer,acquire at=acquire-1
h.release()

h = mut.hold(data)
memoryview(data)[0] = ord("J")  # BUG: mutated-while-shared type=bytearray flags=0 roles=writer,acquire at=acquire-1,other*
h.release()

h = mut.hold(data)
mut.write_through(data)  # BUG: mutated-while-shared type=bytearray flags=0 roles=writer,acquire,release at=acquire-1
h.release()

shared = bytearray(64)


def write_soon():
    time.sleep(0.2)
    shared[0] = 1  # BUG: mutated-while-shared type=bytearray flags=0 roles=writer,acquire thread=w at=acquire+4


threading.Thread(target=write_soon).start()
mut.read_nogil(shared, 1000)
print("mutated_while_shared done", bytes(data))
