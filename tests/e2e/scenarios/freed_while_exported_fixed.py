# freed_while_exported done right: release, then drop the exporter.
import _bufsan_testext as testext


def main():
    exporter = testext.Exporter(32)
    handle = testext.acquire(exporter)
    testext.release(handle)
    del exporter
    print("freed_while_exported_fixed done")


main()
