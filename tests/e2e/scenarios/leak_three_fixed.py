# leak_three done right: every export is released.
import _bufsan_testext as testext

payload = b"0123456789"
testext.acquire_release(payload)


def fill():
    ba = bytearray(b"abcdefgh")
    testext.acquire_release(ba)


fill()
exporter = testext.Exporter(12)
handle = testext.acquire(exporter)
testext.release(handle)
del handle
assert exporter.exports == 0, exporter.exports
print("leak_three_fixed done")
