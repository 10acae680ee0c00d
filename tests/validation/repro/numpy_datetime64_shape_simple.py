"""numpy 1.24 datetime64/timedelta64 scalars' bf_getbuffer
(numpy/core/src/multiarray/scalartypes.c.src, @name@_getbuffer for datetime,
timedelta) always sets ndim=1 and shape=&length, also for a PyBUF_SIMPLE
request, which asks for no shape.
Expected under bufsan: field-not-requested (numpy.datetime64), exit status 66."""
import numpy as np
import _getbuf

print(_getbuf.get_and_release(np.datetime64("2020-01-01"), _getbuf.PyBUF_SIMPLE))
