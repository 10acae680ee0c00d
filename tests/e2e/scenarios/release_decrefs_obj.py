# An exporter whose bf_releasebuffer decrefs view->obj (PyBuffer_Release
# already does).
import _bufsan_testext as testext

releaser = testext.DecrefReleaser(8)
testext.acquire_release(releaser)  # BUG: release-decrefs-obj type=_bufsan_testext.DecrefReleaser roles=release,slot slot=decref_releaser_releasebuffer native=testext_acquire_release
print("release_decrefs_obj done", releaser.releases)
