# sim/scheduling/scheduling.cmake: the deterministic fiber scheduler, the trace and its
# strategies, and the simulated Runtime. Included from sim/CMakeLists.txt.
add_library(ms_sim_runtime
  ${CMAKE_CURRENT_LIST_DIR}/label_table.cpp
  ${CMAKE_CURRENT_LIST_DIR}/trace.cpp
  ${CMAKE_CURRENT_LIST_DIR}/strategy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/scheduler.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_runtime.cpp
)
target_link_libraries(ms_sim_runtime PUBLIC ms_core Boost::context PRIVATE ms_warnings)

if(BUILD_TESTING)
  ms_add_gtest(scheduler_tests
    SOURCES
      ${CMAKE_CURRENT_LIST_DIR}/tests/scheduler_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/tests/trace_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/tests/sim_runtime_test.cpp
    LIBS ms_sim_runtime
    LABELS sim scheduler)
endif()
