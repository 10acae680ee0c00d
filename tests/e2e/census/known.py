# The census of a program with known behaviour (issue 18): a bytes object
# read by two holders at once, a bytearray mutated while a reader holds it,
# memoryviews holding both, two types of its own with long names, and (with
# numpy) an array whose writeable flag flips between two holds.
import os
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

# memoryview holders: of the bytes (no release slot: seen at the memoryview's
# release paths), of the bytearray (it has a release slot)
view = memoryview(data)
view.release()
wview = memoryview(buf)  # may write: a memoryview's hold on writable memory
held = mut.hold(buf)  # EXCLUSIVE would refuse: `wview` is live
held.release()
wview.release()


class CensusExporterWithALongTypeName(bytearray):
    """A type of the program's own whose name is longer than the table's
    narrowest name column; its nested type's is longer than the widest."""

    class AndANestedTypeWhoseNameIsLongerStill(bytes):
        pass


mut.hold(CensusExporterWithALongTypeName(b"long")).release()
mut.hold(CensusExporterWithALongTypeName.AndANestedTypeWhoseNameIsLongerStill(b"longer")).release()

if "numpy" in sys.argv[1:]:
    import numpy as np

    arr = np.arange(8, dtype=np.uint8)
    rw = mut.hold(arr)  # answered readonly=0
    rw.release()
    arr.flags.writeable = False
    ro = mut.hold(arr)  # answered readonly=1: the same object flipped
    ro.release()
os.write(1, b"census known done\n")  # a bytes export where PyBuffer_Release interposes
