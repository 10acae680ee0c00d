# getargs_slotless done right: each "y*" view of a bytes object released
# once, by the extension, directly or through a copy, or by
# PyArg_ParseTuple itself when a later argument fails to convert; bytes(x)
# and b"".join called meanwhile by the interpreter (their releases are not
# seen on Debian's static interpreters, and are not taken for leaks).
import _bufsan_getargs as getargs

data = b"immutable bytes"
total = getargs.sum_ystar(data)
total += getargs.release_ystar_copy(data)
total += len(bytes(data)) + len(b"".join([data, data]))
try:
    getargs.ystar_then_int(bytes(7), "not an int")
except TypeError:
    total += getargs.ystar_then_int(bytes(7), 1)
print("getargs_slotless_fixed done", total)
