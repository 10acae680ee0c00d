# PEP 688 (3.12+): Python classes that export with __buffer__ and
# __release_buffer__ are exporters like C types. A consumer that never
# releases leaks the class's export (one finding: the memoryview __buffer__
# returned is the class's means, not a leak of its own); a class whose
# answers flip between writable and read-only while one is live is
# inconsistent, the same as a C exporter.
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


class Flipper:
    def __init__(self):
        self.data = bytearray(16)
        self.answers = 0

    def __buffer__(self, flags):
        self.answers += 1
        view = memoryview(self.data)
        return view if self.answers % 2 else view.toreadonly()


e = Exporter()
with memoryview(e) as m:
    assert m.tobytes() == b"pep 688 data"
assert e.held == 0, e.held
testext.leak(e)  # BUG: leaked-export type=__main__.Exporter count=1 bytes=12 native=testext_leak_buffer
assert e.held == 1, e.held
mut.acquire_twice(Flipper())  # BUG: inconsistent-writable type=__main__.Flipper roles=acquire,other
print("pep688 done")
