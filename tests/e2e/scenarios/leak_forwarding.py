# Forwarding exporters are recorded once, against the object view->obj
# names: a PickleBuffer forwards to its base, and a memoryview of a
# memoryview exports itself.
import pickle
import _bufsan_testext as testext

base = bytearray(b"forward!")
testext.leak(pickle.PickleBuffer(base))  # BUG: leaked-export type=bytearray bytes=8 native=testext_leak_buffer
# The leaked export of the outer memoryview keeps the managed buffer it
# shares with `inner` alive, and with it that buffer's export of the
# bytearray: never released either, but the consequence of the one leak, not
# a leak of its own (as the memoryview a PEP 688 class's export keeps).
inner = memoryview(bytearray(b"0123456789ab"))
testext.leak(memoryview(inner)[2:6])  # BUG: leaked-export type=memoryview bytes=4 native=testext_leak_buffer
print("leak_forwarding done")
