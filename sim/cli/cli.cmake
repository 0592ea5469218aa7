# sim/cli: modelstore-sim, its report formats, merge and shrink, and the
# tests of its command line. Included from sim/CMakeLists.txt.
add_custom_target(ms_build_git
  COMMAND ${CMAKE_COMMAND} -DSRC=${PROJECT_SOURCE_DIR} -DOUT=${CMAKE_BINARY_DIR}/generated/ms_build_git.h
          -P ${CMAKE_CURRENT_LIST_DIR}/build_git.cmake
  BYPRODUCTS ${CMAKE_BINARY_DIR}/generated/ms_build_git.h
  COMMENT "build identity (git commit)")

# Everything but main: the campaign runner, reports, merge, shrink (the
# scheduler benchmark runs campaigns through it too).
add_library(ms_sim_cli STATIC
  ${CMAKE_CURRENT_LIST_DIR}/cli_values.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config_flags.cpp
  ${CMAKE_CURRENT_LIST_DIR}/output_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/campaign_report.cpp
  ${CMAKE_CURRENT_LIST_DIR}/campaign.cpp
  ${CMAKE_CURRENT_LIST_DIR}/shrink.cpp)
add_dependencies(ms_sim_cli ms_build_git)
target_include_directories(ms_sim_cli PRIVATE ${CMAKE_BINARY_DIR}/generated)
target_compile_definitions(ms_sim_cli PRIVATE
  MS_BUILD_VERSION="${PROJECT_VERSION}"
  MS_BUILD_COMPILER="${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}"
  MS_BUILD_TYPE="${CMAKE_BUILD_TYPE}"
  MS_BUILD_SANITIZE="${MS_SANITIZE}")
target_link_libraries(ms_sim_cli
  PUBLIC ms_simulator Threads::Threads
  PRIVATE nlohmann_json::nlohmann_json rapidcheck ms_warnings)

add_executable(modelstore-sim ${CMAKE_CURRENT_LIST_DIR}/modelstore_sim.cpp)
target_link_libraries(modelstore-sim PRIVATE ms_sim_cli CLI11::CLI11 ms_warnings)

# A short campaign with faults, crashes and the determinism check.
add_test(NAME sim_campaign_smoke
  COMMAND modelstore-sim run --seeds 60 --check-determinism --no-progress
          --fail-dir ${CMAKE_BINARY_DIR}/sim-failures
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(sim_campaign_smoke PROPERTIES LABELS sim)

# The command line as a CI engineer meets it (sim/cli/tests/cli_test.py):
# each case its own test, sim_cli.<case>, in a scratch dir under the build.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(_ms_cli_test ${CMAKE_CURRENT_LIST_DIR}/tests/cli_test.py)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_ms_cli_test})
execute_process(COMMAND ${Python3_EXECUTABLE} ${_ms_cli_test} --list
  OUTPUT_VARIABLE _ms_cli_cases OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${_ms_cli_test} --list failed")
endif()
string(REPLACE "\n" ";" _ms_cli_cases "${_ms_cli_cases}")
foreach(_case IN LISTS _ms_cli_cases)
  add_test(NAME sim_cli.${_case}
    COMMAND ${Python3_EXECUTABLE} ${_ms_cli_test} --sim $<TARGET_FILE:modelstore-sim>
            --work ${CMAKE_BINARY_DIR}/cli-tests --source ${PROJECT_SOURCE_DIR} ${_case}
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(sim_cli.${_case} PROPERTIES LABELS "sim;cli")
endforeach()
