# A consumer drops the reference that view->obj owns: the exporter is
# deallocated while its export is live.
import _bufsan_testext as testext


def main():
    testext.free_exporter_while_exported(32)  # BUG: exporter-freed-while-exported type=_bufsan_testext.Exporter roles=acquire,dealloc native=testext_free_exporter_while_exported
    print("freed_while_exported done")


main()
