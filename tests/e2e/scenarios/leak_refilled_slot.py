# A leaked "y*" view whose Py_buffer is filled again by another call with a
# bytes object (an export made inside the interpreter, which bufsan does not
# see on a static interpreter) and released there: the release is the
# bytes object's, not the leaked bytearray's (blosc 1.11: cbuffer_validate
# leaks, compress reuses the stack slot). One leak; no consumer-modified-view.
import _bufsan_getargs as getargs

getargs.leak_into_slot(bytearray(b"abcdefgh"))  # BUG: leaked-export type=bytearray bytes=8 native=getargs_leak_into_slot
print(getargs.sum_slot(b"\x01\x02\x03"))
print("leak_refilled_slot done")
