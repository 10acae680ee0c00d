# Subinterpreters made with their own GIL (3.12+; every worker of an
# InterpreterPoolExecutor, 3.14+) run Python code in parallel with the main
# interpreter, in a build with a GIL: bufsan's bookkeeping must hold up.
# Four workers and the main interpreter import modules from their .pyc
# (importlib reads each through memoryview(data)[16:]) and make and release
# memoryviews at once: no finding (3.15's test_struct found the race).
# With a GIL, each also calls 600 functions of its own, each a new stack
# and code object at once in every interpreter: bufsan's caches of them
# grow in parallel (without the sections' lock on 3.14+, 1 run in 12
# aborted; free-threaded builds lock them with a PyMutex, and the run
# would take twice as long there).
# Then a real bug in the main interpreter is still found. (3.12's and
# 3.13's subinterpreters themselves crash under this load.)
import threading
from concurrent.futures import InterpreterPoolExecutor

import _bufsan_mutators as mut

WORK = """
import array, collections, decimal, email.parser, fractions, http.client, json, statistics, struct, sys
data = bytearray(256)
for i in range(3000):
    with memoryview(data) as m:
        m[0] = i & 255
    tail = memoryview(bytes(100))[10:]
    struct.unpack_from("i", tail)
    del tail
    memoryview(array.array("b", b"xyz")).release()
if sys._is_gil_enabled():
    src = "".join("def f%d(b):\\n    return struct.unpack_from('i', b)\\n" % i for i in range(600))
    ns = {"struct": struct}
    exec(src, ns)
    for i in range(600):
        ns["f%d" % i](data)
"""

with InterpreterPoolExecutor(max_workers=4) as pool:
    done = pool.map(exec, [WORK] * 8)
    exec(WORK, {})
    assert list(done) == [None] * 8

store = mut.Store(64)
first = memoryview(store)
store.resize(4096)
second = memoryview(store)  # BUG: moved-while-exported type=_bufsan_mutators.Store roles=acquire,other at=other-2
first.release()
second.release()
print("subinterpreters_parallel done")
