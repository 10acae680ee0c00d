# An exporter that moves its memory when exported again while exported.
import _bufsan_mutators as mut

mover = mut.Mutant(64, "move")
mut.acquire_twice(mover)  # BUG: moved-while-exported type=_bufsan_mutators.Mutant roles=acquire,other
print("moved_while_exported done", mover.exports)
