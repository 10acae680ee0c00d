# E2E: needs=numpy
# A numpy array (no release slot) made read-only, then resized in place,
# while a memoryview holds an export with the other answer.
import numpy as np

a = np.arange(16, dtype=np.uint8)
first = memoryview(a)
a.flags.writeable = False
second = memoryview(a)  # BUG: inconsistent-writable type=numpy.ndarray readonly=true roles=acquire,other at=other-2
first.release()
second.release()

b = np.zeros(16, dtype=np.uint8)
held = memoryview(b)
b.resize(4096, refcheck=False)
again = memoryview(b)  # BUG: moved-while-exported type=numpy.ndarray roles=acquire,other at=other-2
print("memoryview_numpy done", held.nbytes, again.nbytes)
