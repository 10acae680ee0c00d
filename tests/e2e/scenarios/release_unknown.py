# A consumer releases the original view and then a copy of it: the second
# release matches no live export.
import _bufsan_testext as testext

exporter = testext.Exporter(8)
testext.release_twice_via_copy(exporter)  # BUG: release-unknown roles=release,earlier-release native=testext_release_twice_via_copy
print("release_unknown done", exporter.releases)
