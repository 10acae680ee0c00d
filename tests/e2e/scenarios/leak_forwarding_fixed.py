# The corrected twin of leak_forwarding: every export is released.
import pickle
import _bufsan_testext as testext

base = bytearray(b"forward!")
testext.acquire_release(pickle.PickleBuffer(base))
inner = memoryview(bytearray(b"0123456789ab"))
testext.acquire_release(memoryview(inner)[2:6])
base.extend(b"resizable again")
print("leak_forwarding_fixed done")
