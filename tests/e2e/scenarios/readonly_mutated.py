# A consumer writes into the buffer of a bytes object, granted readonly=1.
import _bufsan_mutators as mut

data = bytes(bytearray(b"immutable bytes"))
mut.write_readonly(data)  # BUG: readonly-mutated type=bytes readonly=true roles=acquire,release
print("readonly_mutated done")
