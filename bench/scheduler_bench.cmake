# bench/scheduler_bench.cmake: the scheduler's per-decision cost against a
# bare Boost.Context switch, the whole simulator's per-point cost against
# that decision, and a campaign's speed-up from --jobs 2. Included from
# bench/CMakeLists.txt (before store_bench.cmake, which holds ms_bench_support
# and the smoke tests, scheduler's included).
add_executable(scheduler_bench ${CMAKE_CURRENT_LIST_DIR}/scheduler_bench.cpp)
