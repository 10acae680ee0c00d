# An exporter whose shape points into memory it freed: the memory is handed
# out again and rewritten while a consumer holds the view. The exporter's
# answer is wrong (bad-view-fields); the consumer, which touched nothing,
# is not blamed (no consumer-modified-view).
import _bufsan_garbage as g

ND = 0x8

g.consume_reusing(g.Garbage("shape_stale"), ND)  # BUG: bad-view-fields flags=8
print("stale_shape done")
