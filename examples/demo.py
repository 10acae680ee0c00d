"""The demo scripts/demo runs under bufsan: a program using the buggy
extension in examples/checksum.c the way an application would."""
import checksum


def total(chunks):
    result = 0
    for chunk in chunks:
        try:
            result += checksum.checksum(chunk)
        except ValueError:
            pass  # empty chunks are skipped... and leak an export each
    return result


print("total:", total([b"abc", b"", bytearray(b"xyz"), bytearray()]))
block = checksum.Block()
print("block:", bytes(memoryview(block)))
