# consumer_modified_view done right: the view released is the one filled.
import _bufsan_badexporters as bad

print("consumer_modified_view_fixed done", bad.skip_header(bytearray(b"#payload"), fixed=True),
      bad.skip_header(b"#bytes", fixed=True), bad.skip_header(memoryview(b"#mv"), fixed=True))
