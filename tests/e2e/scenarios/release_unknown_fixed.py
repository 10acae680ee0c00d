# release_unknown done right: a view released once, through a copy (allowed),
# and a plain get/release pair.
import _bufsan_testext as testext

exporter = testext.Exporter(8)
testext.release_copy(exporter)
testext.release_copy(bytearray(5))
testext.acquire_release(exporter)
assert exporter.exports == 0, exporter.exports
print("release_unknown_fixed done", exporter.releases)
