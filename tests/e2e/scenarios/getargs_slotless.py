# Extensions that get a bytes object's buffer through the C-API
# (PyArg_ParseTuple's "y*" into a Py_buffer on their own stack) and get its
# release wrong. bytes has no bf_releasebuffer, and on Debian's static
# interpreters getargs' PyObject_GetBuffer is a call inside the executable:
# the export is seen at bytes' bf_getbuffer, where the Py_buffer is found to
# lie in the extension's frame, so the extension's own PyBuffer_Release
# (its GOT) is the release to expect.
import _bufsan_getargs as getargs

# three objects: a copy released twice would otherwise pass for the release
# of the leaked view (the same fields)
leaked, twice, never = bytes(15), bytes(16), bytes(17)
getargs.leak_ystar_stack(leaked)  # BUG: leaked-export type=bytes bytes=15 native=getargs_leak_ystar_stack
getargs.release_ystar_twice(twice)  # BUG: release-unknown type=bytes roles=release,earlier-release native=getargs_release_ystar_twice
getargs.release_never_got(never)  # BUG: release-unknown type=bytes roles=release native=getargs_release_never_got
print("getargs_slotless done")
