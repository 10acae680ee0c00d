# The ctypes acquisition of ctypes_leak.py, released: nothing to report. A
# module-level memoryview is freed by finalization (no leak either).
import ctypes
P = ctypes.POINTER(ctypes.c_ssize_t)
Py_buffer = type("Py_buffer", (ctypes.Structure,), {"_fields_": [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int), ("format", ctypes.c_char_p), ("shape", P), ("strides", P), ("suboffsets", P), ("internal", ctypes.c_void_p)]})
ctypes.pythonapi.PyObject_GetBuffer.argtypes = [ctypes.py_object, ctypes.POINTER(Py_buffer), ctypes.c_int]
ctypes.pythonapi.PyObject_GetBuffer.restype = ctypes.c_int
ctypes.pythonapi.PyBuffer_Release.argtypes = [ctypes.POINTER(Py_buffer)]
ctypes.pythonapi.PyBuffer_Release.restype = None
ba = bytearray(b"released by ctypes")
view = Py_buffer()
rc = ctypes.pythonapi.PyObject_GetBuffer(ctypes.py_object(ba), ctypes.byref(view), 0)
ctypes.pythonapi.PyBuffer_Release(ctypes.byref(view))
held = memoryview(bytearray(b"freed at finalization"))
print("clean lifetime done", rc, view.len)
