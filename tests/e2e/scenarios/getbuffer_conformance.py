# Exporters whose bf_getbuffer breaks one rule each (ignores_flags and bare
# break one rule in several fields at once), called through a
# consumer that asks with the flags given (consume(obj, flags)).
import _bufsan_badexporters as bad

SIMPLE, FORMAT, ND, STRIDES, C_CONTIGUOUS = 0, 0x4, 0x8, 0x18, 0x38

try:
    bad.consume(bad.BadExporter("error_left_obj"), SIMPLE)  # BUG: error-left-obj flags=0 type=_bufsan_badexporters.BadExporter
except BufferError:
    pass
try:
    bad.consume(bad.BadExporter("error_without_exception"), SIMPLE)  # BUG: error-without-exception flags=0
except SystemError:
    pass
try:
    bad.consume(bad.BadExporter("success_with_exception"), SIMPLE)  # BUG: success-with-exception flags=0
except RuntimeError:
    pass
try:
    bad.consume(bad.BadExporter("returns_one"), SIMPLE)  # BUG: success-with-exception flags=0
except BufferError:
    pass
bad.consume(bad.BadExporter("no_incref"), SIMPLE)  # BUG: bad-view-obj flags=0
bad.consume(bad.BadExporter("obj_null"), SIMPLE)  # BUG: bad-view-obj flags=0
bad.consume(bad.BadExporter("format_unrequested"), SIMPLE)  # BUG: field-not-requested flags=0 fields=format
bad.consume(bad.BadExporter("shape_missing"), ND)  # BUG: field-missing flags=8 fields=shape
# every field of one answer in one finding
bad.consume(bad.BadExporter("ignores_flags"), ND)  # BUG: field-not-requested flags=8 fields=format,strides
bad.consume(bad.BadExporter("bare"), STRIDES | FORMAT)  # BUG: field-missing flags=28 fields=format,shape,strides
bad.consume(bad.BadExporter("bad_len"), ND)  # BUG: bad-view-fields flags=8 fields=len
bad.consume(bad.BadExporter("wild_format"), FORMAT)  # BUG: bad-view-fields flags=4 fields=format
bad.consume(bad.BadExporter("not_contiguous"), C_CONTIGUOUS)  # BUG: not-contiguous flags=56
print("getbuffer_conformance done")
