# E2E: options=strict=1
# Under strict=1 a memoryview's hold on its base counts as a reader's, so
# writing through a memoryview changes bytes a "reader" holds. The same code
# is quiet under the default options (mutated_while_shared_fixed).
data = bytearray(b"hello world")
memoryview(data).__setitem__(0, ord("J"))  # BUG: mutated-while-shared type=bytearray flags=284 roles=acquire,release
print("strict_memoryview_write done", bytes(data))
