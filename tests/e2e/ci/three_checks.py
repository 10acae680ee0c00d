# Three different findings, one of them three times from the same place:
# release-unknown (x3, identical stacks: printed once, counted),
# exporter-freed-while-exported and leaked-export.
import _bufsan_testext as testext


def double_release(exporter):
    testext.release_twice_via_copy(exporter)  # FINDING: release-unknown


def free_while_exported():
    testext.free_exporter_while_exported(32)  # FINDING: exporter-freed-while-exported


def leak():
    testext.leak(bytearray(b"leaked"))  # FINDING: leaked-export


exporter = testext.Exporter(8)
for _ in range(3):
    double_release(exporter)
free_while_exported()
leak()
print("three_checks done")
