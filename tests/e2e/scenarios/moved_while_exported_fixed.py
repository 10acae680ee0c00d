# moved_while_exported done right: exports one after the other (the exporter
# only moves while exported), and two overlapping exports of a stable one.
import _bufsan_mutators as mut

mover = mut.Mutant(64, "move")
mut.acquire_one_by_one(mover)
mut.acquire_twice(mut.Mutant(64, "stable"))
print("moved_while_exported_fixed done", mover.exports)
