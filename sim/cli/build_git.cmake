# Writes ${OUT}: MS_BUILD_GIT, the source tree's commit (and "-dirty" when
# it has changes), at every build; the file changes only when the commit does.
execute_process(COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12
  OUTPUT_VARIABLE _git OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0 OR _git STREQUAL "")
  set(_git "unknown")
endif()
file(CONFIGURE OUTPUT "${OUT}" CONTENT "#define MS_BUILD_GIT \"${_git}\"\n")
