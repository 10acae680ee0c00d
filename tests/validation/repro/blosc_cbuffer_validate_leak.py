"""blosc 1.11.1: cbuffer_validate() parses its argument with "y*" and never
calls PyBuffer_Release: every call leaks one export of the argument.
Expected under bufsan: leaked-export (bytearray), exit status 66."""
import blosc

buf = bytearray(blosc.compress(b"0123456789" * 10, typesize=1))
assert blosc.cbuffer_validate(buf)
try:
    buf.append(0)       # a bytearray with a live export cannot be resized
except BufferError as e:
    print("the bytearray is pinned for good:", e)
