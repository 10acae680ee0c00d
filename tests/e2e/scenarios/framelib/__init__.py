# Python classes that export buffers, in a package, imported by the
# exporter_type_names scenario: reports name them module.qualname.
