# bufsan_warnings(target): the project's warning set, errors when BUFSAN_WERROR.
function(bufsan_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wstrict-prototypes
    -Wno-unused-parameter -Wno-missing-field-initializers)
  if(BUFSAN_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
