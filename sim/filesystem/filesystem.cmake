# sim/filesystem/filesystem.cmake, included from sim/CMakeLists.txt: the simulated
# filesystem (ms::sim::SimFilesystem) and its unit tests.
add_library(ms_sim_fs
  ${CMAKE_CURRENT_LIST_DIR}/fault_plan.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sim_filesystem.cpp
)
target_link_libraries(ms_sim_fs PUBLIC ms_core PRIVATE ms_warnings)

ms_add_gtest(sim_filesystem_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/tests/sim_filesystem_test.cpp
  LIBS ms_sim_fs Threads::Threads
  LABELS sim)
