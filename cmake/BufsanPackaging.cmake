# What `cmake --install` puts besides the targets, and the Debian package
# (`cpack -G DEB` in the build tree) made of the same install rules.

install(PROGRAMS scripts/bufsan DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES docs/bufsan.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# The Python package (pytest plugin), when the tree has it. The default is
# where Debian's python3 looks for packages under the /usr prefix of the
# .deb; `pip install .` is the way for other interpreters and prefixes.
set(BUFSAN_PYTHON_INSTALL_DIR "lib/python3/dist-packages" CACHE STRING
    "Where the Python package python/bufsan is installed, relative to the prefix")
if(EXISTS ${PROJECT_SOURCE_DIR}/python/bufsan)
  install(DIRECTORY python/bufsan DESTINATION ${BUFSAN_PYTHON_INSTALL_DIR}
          PATTERN __pycache__ EXCLUDE PATTERN "*.pyc" EXCLUDE)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME bufsan)
set(CPACK_PACKAGE_VENDOR "bufsan")
set(CPACK_PACKAGE_CONTACT "bufsan developers <bufsan@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "sanitizer for CPython's buffer protocol (PEP 3118)")
set(CPACK_PACKAGE_DESCRIPTION
    "bufsan finds buffer-protocol bugs in C, Cython, Rust and C++ extensions: leaked exports, double releases, exporters freed or buffers mutated while exported, non-conforming bf_getbuffer results. Run a program under it with `bufsan python3 app.py`.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
# The libraries' own dependencies, found by dpkg-shlibdeps (dpkg-dev) or
# else named here, plus the interpreter the cores are built for.
find_program(BUFSAN_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(BUFSAN_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3 (>= 3.11)")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3 (>= 3.11), libc6, libdw1, libunwind8, libxxhash0")
endif()
include(CPack)
