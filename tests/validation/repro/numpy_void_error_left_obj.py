"""numpy 1.24 void_getbuffer (numpy/core/src/multiarray/buffer.c): it sets
view->obj = self before building the format; when _buffer_get_info fails
(a structured scalar with a datetime field has no PEP 3118 format) it
Py_DECREFs self and returns -1 with view->obj still pointing at it.
Expected under bufsan: error-left-obj (numpy.void), exit status 66."""
import numpy as np

scalar = np.zeros(1, dtype=[("t", "M8[s]")])[0]
try:
    memoryview(scalar)          # asks for PyBUF_FULL_RO, which includes PyBUF_FORMAT
except (BufferError, ValueError) as e:
    print("memoryview refused as expected:", type(e).__name__, e)
