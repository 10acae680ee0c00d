# pep688 done right: every export of a PEP 688 class is released (the
# class's __release_buffer__ runs each time), and a class answers the same
# way while its exports are live.
import _bufsan_mutators as mut
import _bufsan_testext as testext


class Exporter:
    def __init__(self):
        self.data = bytearray(b"pep 688 data")
        self.held = 0

    def __buffer__(self, flags):
        self.held += 1
        return memoryview(self.data)

    def __release_buffer__(self, view):
        self.held -= 1


class Steady:
    def __init__(self):
        self.data = bytearray(16)

    def __buffer__(self, flags):
        return memoryview(self.data)


class Sub(Exporter):
    pass


e = Exporter()
with memoryview(e) as m:
    assert m.tobytes() == b"pep 688 data"
testext.acquire_release(e)
handle = testext.acquire(Sub())
testext.release(handle)
del handle
assert e.held == 0, e.held
assert mut.acquire_twice(Steady())
print("pep688_fixed done")
