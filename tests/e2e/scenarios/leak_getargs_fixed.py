# The corrected twin of leak_getargs.
import _bufsan_getargs as getargs

b = bytearray(b"abc")
print(getargs.sum_ystar(b), getargs.sum_ystar(b"bytes"))
b.extend(b"resizable")
print("leak_getargs_fixed done")
