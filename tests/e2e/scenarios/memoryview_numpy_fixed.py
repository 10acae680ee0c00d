# E2E: needs=numpy
# memoryview_numpy done right: the memoryviews are released (release(),
# with, del) before the array is resized in place.
import numpy as np

b = np.zeros(16, dtype=np.uint8)
held = memoryview(b)
held.release()
b.resize(64, refcheck=False)
with memoryview(b) as held:
    held[0] = 7
b.resize(128, refcheck=False)
held = memoryview(b)
del held
b.resize(256, refcheck=False)
print("memoryview_numpy_fixed done", int(b[0]))
