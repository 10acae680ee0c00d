# Buffer calls made with the GIL released around them.
import _bufsan_badexporters as bad

data = bytearray(b"no gil here")
bad.acquire_without_gil(data)  # BUG: no-gil type=bytearray
bad.release_without_gil(data)  # BUG: no-gil roles=release type=bytearray
print("no_gil done")
