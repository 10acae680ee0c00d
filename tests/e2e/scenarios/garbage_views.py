# Exporters that fill a correct view and then leave one field garbage:
# bufsan reports bad-view-fields and the program goes on (issue 14: wild
# shape, wild buf, overlong and unterminated formats).
import _bufsan_garbage as g

SIMPLE, FORMAT, ND, STRIDES, FULL = 0, 0x4, 0x8, 0x18, 0x11d

g.consume(g.Garbage("shape_wild"), STRIDES)  # BUG: bad-view-fields flags=24
g.consume(g.Garbage("shape_vsyscall"), STRIDES)  # BUG: bad-view-fields flags=24
g.consume(g.Garbage("buf_wild"), SIMPLE)  # BUG: bad-view-fields flags=0
g.consume(g.Garbage("buf_unmapped"), FULL)  # BUG: bad-view-fields flags=285
g.consume(g.Garbage("format_long"), FORMAT)  # BUG: bad-view-fields flags=4
g.consume(g.Garbage("format_unterminated"), FORMAT)  # BUG: bad-view-fields flags=4
print("garbage_views done")
