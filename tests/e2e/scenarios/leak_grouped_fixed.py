# leak_grouped done right.
import _bufsan_testext as testext

testext.acquire_release(b"tiny")
handles = []
for i in range(3):
    handles.append(testext.acquire(bytearray(10 + i)))
for h in handles:
    testext.release(h)
print("leak_grouped_fixed done")
