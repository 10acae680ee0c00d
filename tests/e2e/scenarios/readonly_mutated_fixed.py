# readonly_mutated done right: the consumer only reads.
import _bufsan_mutators as mut

data = bytes(bytearray(b"immutable bytes"))
print("readonly_mutated_fixed done", mut.read_readonly(data))
