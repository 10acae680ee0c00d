# E2E: needs=numpy
# An extension leaks exports of four kinds of exporter: bytes and numpy arrays
# (no bf_releasebuffer slot), bytearray and a C type with a release slot.
import numpy
import _bufsan_testext as testext

payload = b"0123456789"
testext.leak(payload)  # BUG: leaked-export type=bytes bytes=10 readonly=true flags=0 native=testext_leak_buffer


def fill():
    ba = bytearray(b"abcdefgh")
    testext.leak(ba)  # BUG: leaked-export type=bytearray bytes=8 readonly=false native=testext_leak_buffer
    arr = numpy.arange(6, dtype=numpy.int32)
    testext.leak(arr)  # BUG: leaked-export type=numpy.ndarray bytes=24 readonly=false native=testext_leak_buffer


fill()
exporter = testext.Exporter(12)
testext.leak(exporter, testext.PyBUF_WRITABLE)  # BUG: leaked-export type=_bufsan_testext.Exporter bytes=12 readonly=false flags=1 native=testext_leak_buffer
print("leak_four done")
