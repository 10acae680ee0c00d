"""CPython 3.11 _ctypes (Modules/_ctypes/_ctypes.c, PyCData_NewGetBuffer):
ctypes arrays answer ndim>=1 with view->strides = NULL whatever the request,
also under PyBUF_STRIDES (memoryview() asks for PyBUF_FULL_RO).
Expected under bufsan: field-missing (c_int_Array_4), exit status 66."""
import ctypes

m = memoryview((ctypes.c_int * 4)(1, 2, 3, 4))
print(m.shape, m.strides, m.nbytes)
m.release()
