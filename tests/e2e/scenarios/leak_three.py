# leak_four without numpy (for interpreters that have none): an extension
# leaks exports of bytes, bytearray and a C type with a release slot.
import _bufsan_testext as testext

payload = b"0123456789"
testext.leak(payload)  # BUG: leaked-export type=bytes bytes=10 readonly=true flags=0 native=testext_leak_buffer


def fill():
    ba = bytearray(b"abcdefgh")
    testext.leak(ba)  # BUG: leaked-export type=bytearray bytes=8 readonly=false native=testext_leak_buffer


fill()
exporter = testext.Exporter(12)
handle = testext.acquire(exporter)  # BUG: leaked-export type=_bufsan_testext.Exporter bytes=12 native=testext_acquire_buffer
del handle
print("leak_three done")
