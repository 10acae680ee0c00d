# The same line leaks three times: one finding, count 3, bytes summed; and a
# smaller leak elsewhere, reported after it (largest first).
import _bufsan_testext as testext

testext.leak(b"tiny")  # BUG: leaked-export count=1 bytes=4 type=bytes
for i in range(3):
    testext.leak(bytearray(10 + i))  # BUG: leaked-export count=3 bytes=33 type=bytearray native=testext_leak_buffer
print("leak_grouped done")
