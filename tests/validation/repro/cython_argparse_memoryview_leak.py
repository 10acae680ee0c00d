"""Cython 0.29 (pandas 1.5.3's pandas/_libs/window/aggregations.pyx): the
generated argument parsing converts the typed-memoryview argument `values`
first; when a later argument (here `quantile: float64_t`) fails to convert,
the error path returns without releasing the memoryview it acquired.
Expected under bufsan: leaked-export (numpy.ndarray), exit status 66."""
import pandas as pd

s = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0])
try:
    s.rolling(3).quantile("foo")
except TypeError as e:
    print("TypeError as expected:", e)
