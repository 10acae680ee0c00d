# Extensions that take buffers through PyArg_ParseTuple("y*"/"w*") and
# forget PyBuffer_Release: the export is made inside the interpreter, the
# extension is found among the native frames. (A bytes object leaked this
# way into a heap Py_buffer is seen only where calls into libpython can be
# interposed; into one on the extension's stack, everywhere:
# getargs_slotless, docs/how-it-works.md.)
import _bufsan_getargs as getargs

getargs.leak_ystar(bytearray(b"abc"))  # BUG: leaked-export type=bytearray bytes=3 native=getargs_leak_ystar
getargs.leak_wstar(b=bytearray(b"abcd"))  # BUG: leaked-export type=bytearray bytes=4 flags=1 native=getargs_leak_wstar
# the memoryview's leak keeps its hold on the bytes: one finding, not two
getargs.leak_ystar(memoryview(b"viewed"))  # BUG: leaked-export type=memoryview bytes=6 native=getargs_leak_ystar
print("leak_getargs done")
