# getbuffer_conformance done right: a correct exporter, and the interpreter's
# own exporters, asked with every request type; forwarding exporters
# (memoryview of a memoryview, PickleBuffer) included.
import array
import pickle

import _bufsan_badexporters as bad

WRITABLE, FORMAT, ND = 0x1, 0x4, 0x8
STRIDES = 0x10 | ND
REQUESTS = [0, WRITABLE, FORMAT, ND, STRIDES, 0x20 | STRIDES, 0x40 | STRIDES, 0x80 | STRIDES,
            0x100 | STRIDES, ND | WRITABLE, STRIDES | WRITABLE, STRIDES | FORMAT | WRITABLE,
            STRIDES | FORMAT, 0x100 | STRIDES | FORMAT | WRITABLE, 0x100 | STRIDES | FORMAT]

exporters = [bad.BadExporter("ok"), b"immutable bytes", bytearray(b"mutable"),
             array.array("i", [1, 2, 3]), array.array("d"), memoryview(bytearray(12)),
             memoryview(b"abcdef")[::2], memoryview(bytearray(24)).cast("i", (2, 3)),
             pickle.PickleBuffer(bytearray(b"pickled")), memoryview(memoryview(b"nested"))]
answered = refused = 0
for exporter in exporters:
    for flags in REQUESTS:
        try:
            bad.consume(exporter, flags)
            answered += 1
        except BufferError:
            refused += 1
print("getbuffer_conformance_fixed done", answered, refused)
