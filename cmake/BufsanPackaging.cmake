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

  # The package learns where this install puts the libraries and the
  # launcher from bufsan/_installed.py: paths relative to its own folder,
  # so that they hold under any --prefix, DESTDIR or dpkg --root. An
  # absolute destination is written as configured.
  function(bufsan_seen_from_package out dest)
    set(pkg "${BUFSAN_PYTHON_INSTALL_DIR}/bufsan")
    if(IS_ABSOLUTE "${dest}" OR IS_ABSOLUTE "${pkg}")
      get_filename_component(p "${dest}" ABSOLUTE BASE_DIR "${CMAKE_INSTALL_PREFIX}")
    else()
      file(RELATIVE_PATH p "/prefix/${pkg}" "/prefix/${dest}")
    endif()
    set(${out} "${p}" PARENT_SCOPE)
  endfunction()
  bufsan_seen_from_package(BUFSAN_PY_LIBDIR "${CMAKE_INSTALL_LIBDIR}/bufsan")
  bufsan_seen_from_package(BUFSAN_PY_LAUNCHER "${CMAKE_INSTALL_BINDIR}/bufsan")
  file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/python-install/_installed.py CONTENT
"# Written by the CMake install rules: where this install put bufsan's
# libraries and its launcher, relative to this package's folder.
LIBDIR = \"@BUFSAN_PY_LIBDIR@\"
LAUNCHER = \"@BUFSAN_PY_LAUNCHER@\"
" @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/python-install/_installed.py
          DESTINATION ${BUFSAN_PYTHON_INSTALL_DIR}/bufsan)

  # Its metadata, as pip would write it: importlib.metadata finds the
  # distribution and pytest its pytest11 entry point, so `pytest --bufsan`
  # needs no -p. No RECORD: pip leaves the files to whoever installed
  # them (the .deb, or cmake --install). The launcher is bin/bufsan, the
  # shell script, not a console script.
  set(BUFSAN_DIST_INFO ${CMAKE_BINARY_DIR}/python/bufsan-${PROJECT_VERSION}.dist-info)
  file(CONFIGURE OUTPUT ${BUFSAN_DIST_INFO}/METADATA CONTENT
"Metadata-Version: 2.1
Name: bufsan
Version: @PROJECT_VERSION@
Summary: A runtime sanitizer for CPython's buffer protocol (PEP 3118), with a pytest plugin
Requires-Python: >=3.8
" @ONLY)
  file(CONFIGURE OUTPUT ${BUFSAN_DIST_INFO}/entry_points.txt CONTENT
"[pytest11]
bufsan = bufsan._pytest11
" @ONLY)
  file(CONFIGURE OUTPUT ${BUFSAN_DIST_INFO}/INSTALLER CONTENT "cmake\n" @ONLY)
  install(DIRECTORY ${BUFSAN_DIST_INFO} DESTINATION ${BUFSAN_PYTHON_INSTALL_DIR})
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
