# Queries each interpreter in BUFSAN_PYTHONS for its version, ABI flags and
# include directory, and keeps one entry per distinct "<major>.<minor><abiflags>".
# Result: BUFSAN_PY_TAGS (list of tags), BUFSAN_PY_<tag>_INCLUDE (include
# directories: the interpreter's own, and for an interpreter in a chroot
# (scripts/install-pythons, which sets BUFSAN_PYTHON_ROOT in it) the
# chroot's /usr/include, searched after the host's), BUFSAN_PY_<tag>_EXE,
# BUFSAN_PY_<tag>_EXT_SUFFIX (its extension modules' suffix).
set(BUFSAN_PY_TAGS "")
foreach(py IN LISTS BUFSAN_PYTHONS)
  find_program(_bufsan_py_path NAMES ${py} HINTS ${BUFSAN_PYTHONS_BIN} NO_CACHE)
  if(NOT _bufsan_py_path)
    message(STATUS "bufsan: interpreter ${py} not found, skipped")
    continue()
  endif()
  execute_process(
    COMMAND ${_bufsan_py_path} -c
      "import os, sys, sysconfig; print('%d.%d%s' % (sys.version_info[0], sys.version_info[1], sys.abiflags)); print(sysconfig.get_paths()['include']); print(sysconfig.get_config_var('EXT_SUFFIX')); print(os.environ.get('BUFSAN_PYTHON_ROOT', ''))"
    OUTPUT_VARIABLE _out RESULT_VARIABLE _rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(_bufsan_py_exe ${_bufsan_py_path})
  unset(_bufsan_py_path)
  if(NOT _rc EQUAL 0)
    message(STATUS "bufsan: interpreter ${py} did not answer, skipped")
    continue()
  endif()
  string(REPLACE "\n" ";" _out "${_out}")
  list(GET _out 0 _tag)
  list(GET _out 1 _inc)
  list(GET _out 2 _ext_suffix)
  set(_root "")
  list(LENGTH _out _n)
  if(_n GREATER 3)
    list(GET _out 3 _root)
  endif()
  set(_idirafter "")
  if(_root)
    set(_inc "${_root}${_inc}")
    set(_idirafter "${_root}/usr/include")
  endif()
  if(NOT EXISTS "${_inc}/Python.h")
    message(STATUS "bufsan: ${py} (${_tag}) has no headers at ${_inc}, skipped")
    continue()
  endif()
  if(NOT _tag IN_LIST BUFSAN_PY_TAGS)
    list(APPEND BUFSAN_PY_TAGS ${_tag})
    set(BUFSAN_PY_${_tag}_INCLUDE ${_inc})
    set(BUFSAN_PY_${_tag}_IDIRAFTER "${_idirafter}")
    set(BUFSAN_PY_${_tag}_EXE ${_bufsan_py_exe})
    set(BUFSAN_PY_${_tag}_EXT_SUFFIX ${_ext_suffix})
    message(STATUS "bufsan: core ${_tag} from ${py} (headers ${_inc})")
  endif()
endforeach()
if(NOT BUFSAN_PY_TAGS)
  message(FATAL_ERROR "bufsan: no usable Python interpreter among ${BUFSAN_PYTHONS}")
endif()
