# Exports still held at exit by objects that finalization frees are no leak:
# module-level memoryviews of a bytearray, an array and a C exporter, and one
# inside a function's closure.
import array
import _bufsan_testext as testext

data = bytearray(b"x" * 32)
mv = memoryview(data)
numbers = array.array("i", [1, 2, 3])
mv_numbers = memoryview(numbers)
mv_exporter = memoryview(testext.Exporter(8))
sliced = mv[4:8]


def make_reader():
    view = memoryview(bytearray(16))
    return lambda: view[0]


reader = make_reader()
print("module_memoryview done", len(mv), reader())
