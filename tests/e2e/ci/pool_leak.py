# A multiprocessing.Pool worker leaks an export (ctypes PyObject_GetBuffer on
# a bytearray, never released). The pool ignores its workers' exit statuses
# and the parent exits 0: only the launcher's verdict can fail the run.
import ctypes
import multiprocessing
import sys

P = ctypes.POINTER(ctypes.c_ssize_t)
Py_buffer = type("Py_buffer", (ctypes.Structure,), {"_fields_": [
    ("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t),
    ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
    ("format", ctypes.c_char_p), ("shape", P), ("strides", P), ("suboffsets", P),
    ("internal", ctypes.c_void_p)]})
get_buffer = ctypes.pythonapi.PyObject_GetBuffer
get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(Py_buffer), ctypes.c_int]
get_buffer.restype = ctypes.c_int
release = ctypes.pythonapi.PyBuffer_Release
release.argtypes = [ctypes.POINTER(Py_buffer)]
FIXED = "--fixed" in sys.argv
held = []


def work(n):
    data = bytearray(n)
    view = Py_buffer()
    get_buffer(ctypes.py_object(data), ctypes.byref(view), 0)  # FINDING: leaked-export
    if FIXED:
        release(ctypes.byref(view))
    else:
        held.append(view)
    return n


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    pool = multiprocessing.Pool(2)
    print("pool_leak sum", sum(pool.map(work, [3, 4, 5, 6])))
    pool.close()
    pool.join()
