"""CPython 3.11 _ctypes (Modules/_ctypes/_ctypes.c, PyCData_NewGetBuffer):
ctypes arrays fill format and shape whatever the request, also for a
PyBUF_SIMPLE request, which asks for neither (blosc's compress() of a ctypes
array makes one).
Expected under bufsan: field-not-requested (c_double_Array_4), exit status 66."""
import ctypes

import _getbuf

print(_getbuf.get_and_release((ctypes.c_double * 4)(1, 2, 3, 4), _getbuf.PyBUF_SIMPLE))
