"""Calls PyObject_GetBuffer / PyBuffer_Release with exactly the flags asked for,
through ctypes, so that a reproduction can make the one request that shows a bug
(memoryview() always asks for PyBUF_FULL_RO)."""
import ctypes

PyBUF_SIMPLE = 0
PyBUF_WRITABLE = 0x0001
PyBUF_FORMAT = 0x0004
PyBUF_ND = 0x0008
PyBUF_STRIDES = 0x0010 | PyBUF_ND
PyBUF_FULL_RO = 0x0100 | PyBUF_STRIDES | PyBUF_FORMAT


class Py_buffer(ctypes.Structure):
    _fields_ = [("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p),
                ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t),
                ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p),
                ("strides", ctypes.c_void_p), ("suboffsets", ctypes.c_void_p),
                ("internal", ctypes.c_void_p)]


_get = ctypes.pythonapi.PyObject_GetBuffer
_get.argtypes = [ctypes.py_object, ctypes.POINTER(Py_buffer), ctypes.c_int]
_get.restype = ctypes.c_int
_release = ctypes.pythonapi.PyBuffer_Release
_release.argtypes = [ctypes.POINTER(Py_buffer)]
_release.restype = None


def get_and_release(obj, flags):
    """Requests a buffer of OBJ with FLAGS, returns what the exporter filled
    in (a dict), releases it."""
    view = Py_buffer()
    if _get(obj, ctypes.byref(view), flags) != 0:
        raise BufferError("PyObject_GetBuffer failed")
    try:
        return {"ndim": view.ndim, "format": view.format, "shape": bool(view.shape),
                "strides": bool(view.strides)}
    finally:
        _release(ctypes.byref(view))
