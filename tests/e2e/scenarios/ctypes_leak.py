# ctypes-only leak, no extension module: PyObject_GetBuffer on a bytearray
# through ctypes.pythonapi, never released. Every statement is one line so the
# same text runs as a script, with -c, -m, from stdin and typed into -i.
import ctypes
P = ctypes.POINTER(ctypes.c_ssize_t)
Py_buffer = type("Py_buffer", (ctypes.Structure,), {"_fields_": [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int), ("format", ctypes.c_char_p), ("shape", P), ("strides", P), ("suboffsets", P), ("internal", ctypes.c_void_p)]})
ctypes.pythonapi.PyObject_GetBuffer.argtypes = [ctypes.py_object, ctypes.POINTER(Py_buffer), ctypes.c_int]
ctypes.pythonapi.PyObject_GetBuffer.restype = ctypes.c_int
ba = bytearray(b"leaked by ctypes")
view = Py_buffer()
rc = ctypes.pythonapi.PyObject_GetBuffer(ctypes.py_object(ba), ctypes.byref(view), 0)  # BUG: leaked-export type=bytearray bytes=16 readonly=false flags=0
print("ctypes leak done", rc, view.len)
