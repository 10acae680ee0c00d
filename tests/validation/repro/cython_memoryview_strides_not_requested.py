"""Cython 0.29's memoryview.__getbuffer__ (Cython/Utility/MemoryView.pyx) fills
`strides` when `flags & PyBUF_STRIDES` is non-zero; PyBUF_STRIDES contains the
PyBUF_ND bit, so a PyBUF_ND request (PyBUF_CONTIG_RO, what io.BytesIO.write
asks for) gets strides it did not ask for. Every Cython 0.29 module that hands
typed memoryviews to Python code has it; here h5py's h5fd module, whose
file-object driver passes `<unsigned char[:size]>` views of HDF5's buffers to
the Python file object's write().
Expected under bufsan: field-not-requested (h5fd._memoryviewslice), exit status 66."""
import io

import h5py
import numpy as np

with h5py.File(io.BytesIO(), "w") as f:
    f["x"] = np.arange(10)
