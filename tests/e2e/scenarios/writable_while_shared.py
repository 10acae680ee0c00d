# E2E: options=checks=+writable-while-shared
# A writable export and a reader's export of one bytearray at the same time
# ("mutable XOR shared"; off by default).
import _bufsan_mutators as mut

data = bytearray(16)
mut.reader_and_writer(data)  # BUG: writable-while-shared type=bytearray roles=acquire,other
print("writable_while_shared done")
