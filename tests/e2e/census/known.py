# The census of a program with known behaviour (issue 18): a bytes object
# read by two holders at once, a bytearray mutated while a reader holds it,
# and (with numpy) an array whose writeable flag flips between two holds.
import sys

import _bufsan_mutators as mut

data = b"census bytes"
first = mut.hold(data)
second = mut.hold(data)  # EXCLUSIVE would refuse: `first` is live
second.release()
first.release()

buf = bytearray(b"census bytearray")
reader = mut.hold(buf)
buf[0] ^= 0xFF  # mutated while the reader holds it
reader.release()

if "numpy" in sys.argv[1:]:
    import numpy as np

    arr = np.arange(8, dtype=np.uint8)
    rw = mut.hold(arr)  # answered readonly=0
    rw.release()
    arr.flags.writeable = False
    ro = mut.hold(arr)  # answered readonly=1: the same object flipped
    ro.release()
print("census known done")
