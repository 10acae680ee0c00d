# A consumer writes through a writable export while a reader's export of the
# same bytearray is live: the reader's bytes change under it.
import _bufsan_mutators as mut

data = bytearray(b"hello world")
mut.share_and_write(data)  # BUG: mutated-while-shared type=bytearray readonly=false flags=0 roles=acquire,release,other
print("mutated_while_shared done", bytes(data))
