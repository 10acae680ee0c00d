"""pyzmq 24.0.1 Frame.__getbuffer__ (zmq/backend/cython/message.pyx) sets
buffer.format = "B" whatever the flags; a request without PyBUF_FORMAT
(bytearray(frame) asks for PyBUF_SIMPLE, numpy for PyBUF_WRITABLE) must get
format NULL.
Expected under bufsan: field-not-requested (zmq Frame), exit status 66."""
import zmq
import _getbuf

frame = zmq.Frame(b"hello world")
print(_getbuf.get_and_release(frame, _getbuf.PyBUF_SIMPLE))
