# bench/store_bench.cmake: the store suites (materialize, gc, footprint,
# pull), their smoke tests (label bench-smoke) and the dashboard test (label
# dashboard). Included from bench/CMakeLists.txt. `./run bench` runs the
# suites through bench/run_bench.sh.
add_library(ms_bench_support STATIC ${CMAKE_CURRENT_LIST_DIR}/bench_support.cpp)
target_link_libraries(ms_bench_support PUBLIC ms_core benchmark::benchmark PRIVATE ms_warnings)

# The scheduler suite (scheduler_bench.cmake) shares the profile handling.
if(TARGET scheduler_bench)
  target_link_libraries(scheduler_bench PRIVATE ms_bench_support ms_sim_cli ms_simulator ms_sim_runtime
    Boost::context benchmark::benchmark ms_warnings)
endif()

foreach(_suite materialize gc footprint pull)
  add_executable(${_suite}_bench ${CMAKE_CURRENT_LIST_DIR}/${_suite}_bench.cpp)
  target_link_libraries(${_suite}_bench PRIVATE ms_bench_support ms_warnings)
endforeach()
target_link_libraries(footprint_bench PRIVATE ms_fake_registry)
target_link_libraries(pull_bench PRIVATE ms_fake_registry)

if(NOT BUILD_TESTING)
  return()
endif()

# The tools are python3 (standard library only). A missing python3 fails
# these tests loudly rather than dropping them.
find_program(MS_PYTHON3 python3)
if(NOT MS_PYTHON3)
  set(MS_PYTHON3 python3)
endif()
set(_ms_benchtool ${CMAKE_CURRENT_LIST_DIR}/benchtool.py)
set(_ms_smoke_dir ${CMAKE_CURRENT_BINARY_DIR}/smoke)

# ms_bench_smoke(SUITE EXPECT...): runs SUITE_bench at its smoke profile and
# checks its JSON: the expected benchmarks (NAME@counter,counter) with their
# counters, behaviour counters holding. Never a time.
function(ms_bench_smoke suite)
  set(_expect)
  foreach(_e ${ARGN})
    list(APPEND _expect --expect ${_e})
  endforeach()
  add_test(NAME bench_smoke_${suite}
    COMMAND ${MS_PYTHON3} ${_ms_benchtool} smoke $<TARGET_FILE:${suite}_bench>
            ${_ms_smoke_dir}/${suite}.json ${_expect})
  # The JSON goes to CDash with the results (ctest -D ... submissions).
  set_tests_properties(bench_smoke_${suite} PROPERTIES LABELS bench-smoke TIMEOUT 300
    ATTACHED_FILES ${_ms_smoke_dir}/${suite}.json)
endfunction()

ms_bench_smoke(materialize
  "materialize/store/files:10/durable:0@store_ms,cp_al_ms,linkat_ms,store_vs_cp_al,store_vs_linkat"
  "materialize/store/files:10/durable:1@store_vs_cp_al,store_vs_linkat"
  "materialize/durability/files:10@durable_ms,fast_ms,cp_al_sync_ms,durable_vs_fast,durable_vs_cp_al_sync"
  "materialize/cp_al/files:10"
  "materialize/linkat/files:10")
ms_bench_smoke(gc
  "gc/collect/files:10@gc_ms,rm_rf_ms,gc_vs_rm_rf"
  "gc/liveness/files:10@liveness_us,smallest_us,liveness_vs_smallest"
  "gc/liveness/refs:10@liveness_us,one_ref_us,liveness_vs_one_ref")
ms_bench_smoke(footprint
  "footprint/volumes:10/digests:2/pullers:4@footprint_ratio,manifest_fetches_per_digest,blob_fetches_per_blob,disk_bytes,unique_payload_bytes,no_dedup_bytes,entries_after_delete"
  "footprint/sharing/models:4/shared_pct:50/volumes_per_model:2@footprint_ratio,manifest_level_ratio,no_dedup_ratio,disk_bytes,unique_blob_bytes,manifest_level_bytes,no_dedup_bytes,blob_fetches_per_blob"
  "footprint/blob_fetches/pullers:4@fetches_per_blob,blob_fetches_per_blob,footprint_ratio,unique_layers")
ms_bench_smoke(pull
  "pull/files:4/kib_per_file:64/durable:0@pull_ms,write_ms,pull_vs_write,payload_bytes"
  "pull/files:4/kib_per_file:64/durable:1@pull_vs_write"
  "pull/durability/files:4/kib_per_file:64@durable_ms,fast_ms,write_sync_ms,durable_vs_fast,durable_vs_write_sync"
  "pull/stream_blob/mib:4@stream_ms,floor_ms,stream_vs_floor,largest_chunk_bytes,rss_growth_kib")

if(TARGET scheduler_bench)
  ms_bench_smoke(scheduler
    "scheduler/BareFiberSwitch"
    "scheduler/SchedulerDecision/random/actors:2@ns_per_decision,cpu_ns_per_decision,ratio_to_bare"
    "scheduler/SimulatorEndToEnd@cpu_ns_per_point,cpu_points_per_second,ratio_to_decision"
    "scheduler/SimulatorCampaignJobs@seeds_per_second_jobs1,seeds_per_second_jobs2,points_per_second_jobs1,points_per_second_jobs2,speedup_jobs2,jobs2_vs_jobs1")
endif()

# The tools themselves: comparison flags, history, merge, name handling.
add_test(NAME bench_tools
  COMMAND ${MS_PYTHON3} -m unittest -v test_benchtools
  WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
set_tests_properties(bench_tools PROPERTIES LABELS bench-smoke TIMEOUT 120
  ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")

# The last `./run bench` figures as CTest measurements, for a CDash
# submission after a bench run (ctest -L bench-figures -D Experimental).
# Skipped when this build tree has no run.json.
add_test(NAME bench_figures
  COMMAND ${MS_PYTHON3} ${_ms_benchtool} measurements ${CMAKE_CURRENT_BINARY_DIR}/run.json --all)
set_tests_properties(bench_figures PROPERTIES LABELS bench-figures TIMEOUT 60 SKIP_RETURN_CODE 77)

# The dashboard, generated from the committed baseline, opened in headless
# Chromium: every plot must have rendered. Skipped (exit 77) without
# /usr/bin/chromium, which only `./run bench` installs.
add_test(NAME dashboard_render
  COMMAND ${MS_PYTHON3} ${CMAKE_CURRENT_LIST_DIR}/dashboard/check_dashboard.py
          --run ${PROJECT_SOURCE_DIR}/fixtures/bench-baseline.json
          --compare ${PROJECT_SOURCE_DIR}/fixtures/designs/compare.json
          --workdir ${CMAKE_CURRENT_BINARY_DIR}/dashboard-test --min-plots 11
          --screenshot ${CMAKE_CURRENT_BINARY_DIR}/dashboard-test/dashboard.png)
set_tests_properties(dashboard_render PROPERTIES LABELS dashboard TIMEOUT 300
  SKIP_RETURN_CODE 77 ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
