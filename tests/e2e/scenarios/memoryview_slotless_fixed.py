# memoryview_slotless done right: every memoryview of an exporter without a
# release slot lets go before the exporter moves its memory: release(), a
# with block, del, the last slice going away, a reference cycle collected,
# a PickleBuffer released or deleted. Nothing is reported (no leak either).
import gc
import pickle

import _bufsan_mutators as mut

store = mut.Store(64)
view = memoryview(store)
view.release()
store.resize(128)

with memoryview(store) as view:
    view[0] = 1
store.resize(256)

view = memoryview(store)
del view
store.resize(512)

part = memoryview(store)[8:16]  # the slice keeps the managed buffer
part = None
store.resize(1024)


class Node:
    pass


node = Node()
node.me = node
node.view = memoryview(store)
del node
gc.collect()
store.resize(2048)

pb = pickle.PickleBuffer(store)
pb.release()
store.resize(4096)
pb = pickle.PickleBuffer(store)
del pb
store.resize(8192)

print("memoryview_slotless_fixed done", len(memoryview(store)))
# bytearray() reads its argument through a Py_buffer on the C stack, where
# PickleBuffer's own frame left its type: not a PickleBuffer's view
kept = pickle.PickleBuffer(bytearray(b"pickled"))
