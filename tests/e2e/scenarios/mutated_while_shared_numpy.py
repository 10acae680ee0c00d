# E2E: needs=numpy
# numpy arrays held by a C consumer after its call returned, changed by
# their owner through item assignment and an in-place operator; and a
# read-only view (granted readonly=1) changed through its base.
import numpy as np

import _bufsan_mutators as mut

a = np.arange(16, dtype=np.uint8)
h = mut.hold(a)
a[0] = 99  # BUG: mutated-while-shared type=numpy.ndarray flags=0 roles=writer,acquire at=acquire-1
h.release()
h = mut.hold(a)
a += 1  # BUG: mutated-while-shared type=numpy.ndarray flags=0 roles=writer,acquire at=acquire-1
h.release()

base = np.zeros(8, dtype=np.uint8)
ro = base[:]
ro.flags.writeable = False
h = mut.hold(ro)  # BUG: readonly-mutated type=numpy.ndarray readonly=true roles=acquire,release at=release+2
base[1] = 5
h.release()
print("mutated_while_shared_numpy done", int(a.sum()))
