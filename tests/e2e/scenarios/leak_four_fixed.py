# E2E: needs=numpy
# leak_four done right: every export is released.
import numpy
import _bufsan_testext as testext

payload = b"0123456789"
testext.acquire_release(payload)


def fill():
    ba = bytearray(b"abcdefgh")
    testext.acquire_release(ba)
    arr = numpy.arange(6, dtype=numpy.int32)
    handle = testext.acquire(arr)
    testext.release(handle)


fill()
exporter = testext.Exporter(12)
testext.acquire_release(exporter, testext.PyBUF_WRITABLE)
assert exporter.exports == 0, exporter.exports
print("leak_four_fixed done")
