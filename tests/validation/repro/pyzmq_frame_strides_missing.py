"""pyzmq 24.0.1 Frame.__getbuffer__ (zmq/backend/cython/message.pyx) answers
ndim=1 with strides=NULL whatever the flags, also under PyBUF_STRIDES
(memoryview() asks for PyBUF_FULL_RO).
Expected under bufsan: field-missing (zmq Frame), exit status 66."""
import zmq

m = memoryview(zmq.Frame(b"hello world"))
print(bytes(m))
m.release()
