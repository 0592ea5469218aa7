# bench/scheduler_bench.cmake: the scheduler's per-decision cost against a
# bare Boost.Context switch, and the whole simulator's per-point cost
# against that decision. Included from bench/CMakeLists.txt.
add_executable(scheduler_bench ${CMAKE_CURRENT_LIST_DIR}/scheduler_bench.cpp)
target_link_libraries(scheduler_bench PRIVATE ms_simulator ms_sim_runtime Boost::context benchmark::benchmark ms_warnings)
