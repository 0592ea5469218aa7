# The simulator: workload, actors, the world (its CLI: sim/cli/cli.cmake).
add_library(ms_simulator
  ${CMAKE_CURRENT_LIST_DIR}/workload.cpp
  ${CMAKE_CURRENT_LIST_DIR}/world.cpp
  ${CMAKE_CURRENT_LIST_DIR}/drivers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/clients.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mishaps.cpp
  ${CMAKE_CURRENT_LIST_DIR}/kubelet.cpp
  ${CMAKE_CURRENT_LIST_DIR}/recovery.cpp
  ${CMAKE_CURRENT_LIST_DIR}/crash_explorer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/simulator.cpp)
target_link_libraries(ms_simulator PUBLIC ms_core ms_designs ms_sim_fs ms_sim_runtime ms_fake_registry ms_sim_checking PRIVATE ms_warnings)

if(BUILD_TESTING)
  ms_add_gtest(simulator_tests
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/tests/simulator_test.cpp ${CMAKE_CURRENT_LIST_DIR}/tests/crash_model_test.cpp
            ${CMAKE_CURRENT_LIST_DIR}/tests/model_pool_test.cpp
    LIBS ms_simulator
    LABELS sim)
endif()

# Determinism is sacred in sim/: no wall clock and no unseeded randomness
# outside the CLI (sim/cli/, which only times the report).
add_test(NAME sim_reads_no_clock
  COMMAND sh -c "! grep -rnE --include=*.cpp --include=*.h --exclude-dir=cli 'std::chrono|[^_a-z]time\\(|gettimeofday|clock_gettime|random_device|std::rand|srand' sim | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//'"
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
set_tests_properties(sim_reads_no_clock PROPERTIES LABELS sim)
