# release_decrefs_obj done right: an exporter whose release slot leaves the
# reference count alone, and one with no release slot.
import _bufsan_testext as testext

exporter = testext.Exporter(8)
testext.acquire_release(exporter)
slotless = testext.SlotlessExporter(8)
testext.acquire_release(slotless)
print("release_decrefs_obj_fixed done", exporter.releases)
