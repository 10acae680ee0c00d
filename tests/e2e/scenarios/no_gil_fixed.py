# no_gil done right: the GIL is released only while the bytes are read.
import _bufsan_badexporters as bad

data = bytearray(b"no gil here")
print("no_gil_fixed done", bad.acquire_without_gil(data, fixed=True),
      bad.release_without_gil(data, fixed=True))
