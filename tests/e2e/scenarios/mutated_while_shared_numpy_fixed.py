# E2E: needs=numpy
# mutated_while_shared_numpy done right: the owner writes after the C
# consumer released its hold, and a callback writes while the C call that
# holds the reader is still running (the holder's own call).
import numpy as np

import _bufsan_mutators as mut

a = np.arange(16, dtype=np.uint8)
h = mut.hold(a)
h.release()
a[0] = 99
a += 1


def poke(arr):
    arr[1] = 7
    arr *= 2


mut.hold_and_call(a, poke)
base = np.zeros(8, dtype=np.uint8)
ro = base[:]
ro.flags.writeable = False
h = mut.hold(ro)
h.release()
base[1] = 5
print("mutated_while_shared_numpy_fixed done", int(a.sum()))
