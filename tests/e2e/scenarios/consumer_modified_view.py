# A parser that advances the Py_buffer past a header and releases the
# advanced view instead of the one the exporter filled.
import _bufsan_badexporters as bad

data = bytearray(b"#payload")
body = bad.skip_header(data)  # BUG: consumer-modified-view roles=release,acquire type=bytearray flags=0
print("consumer_modified_view done", body)
