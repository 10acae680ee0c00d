# E2E: options=checks=+writable-while-shared
# writable_while_shared done right: the reader is gone before the writer.
import _bufsan_mutators as mut

data = bytearray(16)
mut.share_then_write(data)
mut.acquire_twice(data)
print("writable_while_shared_fixed done")
