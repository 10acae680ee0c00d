# Exporters that are Python classes are named module.qualname in reports
# (a heap type's tp_name is the bare class name); the interpreter's own types
# keep their names.
import _bufsan_testext as testext
from framelib.frame import Frame, Message


class Local(bytes):
    pass


testext.leak(Frame(b"frame"))  # BUG: leaked-export type=framelib.frame.Frame bytes=5 readonly=false flags=0
testext.leak(Message.Part(b"part!!"))  # BUG: leaked-export type=framelib.frame.Message.Part bytes=6 flags=0
testext.leak(Local(b"local bytes"))  # BUG: leaked-export type=__main__.Local bytes=11 readonly=true flags=0
testext.leak(bytearray(b"plain"))  # BUG: leaked-export type=bytearray bytes=5 flags=0
print("exporter_type_names done")
