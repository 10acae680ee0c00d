# bufsan_python_extension(TARGET OUTPUT_DIR DIR SOURCES src...): a CPython
# extension module built against BUFSAN_TEST_PYTHON's headers, named with its
# EXT_SUFFIX, linking no libpython (so it loads in every 3.11 interpreter).
# SUFFIX, INCLUDE, IDIRAFTER: another interpreter's (BUFSAN_PY_<tag>_*).
function(bufsan_python_extension target)
  cmake_parse_arguments(X "" "OUTPUT_DIR;NAME;SUFFIX;INCLUDE;IDIRAFTER" "SOURCES" ${ARGN})
  if(NOT BUFSAN_PY_EXT_SUFFIX)
    execute_process(COMMAND ${BUFSAN_TEST_PYTHON} -c
      "import sysconfig; print(sysconfig.get_paths()['include']); print(sysconfig.get_config_var('EXT_SUFFIX'))"
      OUTPUT_VARIABLE _out OUTPUT_STRIP_TRAILING_WHITESPACE)
    string(REPLACE "\n" ";" _out "${_out}")
    list(GET _out 0 _inc)
    list(GET _out 1 _suffix)
    set(BUFSAN_PY_EXT_INCLUDE ${_inc} CACHE INTERNAL "")
    set(BUFSAN_PY_EXT_SUFFIX ${_suffix} CACHE INTERNAL "")
  endif()
  if(NOT X_NAME)
    set(X_NAME ${target})
  endif()
  if(NOT X_SUFFIX)
    set(X_SUFFIX "${BUFSAN_PY_EXT_SUFFIX}")
    set(X_INCLUDE "${BUFSAN_PY_EXT_INCLUDE}")
  endif()
  add_library(${target} MODULE ${X_SOURCES})
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME ${X_NAME}
    SUFFIX "${X_SUFFIX}" LIBRARY_OUTPUT_DIRECTORY ${X_OUTPUT_DIR})
  target_include_directories(${target} SYSTEM PRIVATE ${X_INCLUDE})
  if(X_IDIRAFTER)
    target_compile_options(${target} PRIVATE -idirafter ${X_IDIRAFTER})
  endif()
  target_compile_options(${target} PRIVATE -g -O1)
  bufsan_warnings(${target})
endfunction()
