"""numpy 1.24 datetime64/timedelta64 scalars' bf_getbuffer
(numpy/core/src/multiarray/scalartypes.c.src) answers ndim=1 with
strides=NULL even when the request has PyBUF_STRIDES (memoryview() asks for
PyBUF_FULL_RO).
Expected under bufsan: field-missing (numpy.timedelta64), exit status 66."""
import numpy as np

m = memoryview(np.timedelta64(5, "s"))
print(m.shape, m.strides)
m.release()
