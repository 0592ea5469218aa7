# sim/checking/checking.cmake: the invariant checker (I1-I5 on the disk) and
# the result oracle (I7 on the answers of calls). Included from
# sim/CMakeLists.txt.
add_library(ms_sim_checking
  ${CMAKE_CURRENT_LIST_DIR}/invariant_checker.cpp
  ${CMAKE_CURRENT_LIST_DIR}/result_oracle.cpp
)
target_link_libraries(ms_sim_checking PUBLIC ms_core ms_sim_fs PRIVATE ms_warnings)

if(BUILD_TESTING)
  ms_add_gtest(checking_tests
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/tests/result_oracle_test.cpp
            ${CMAKE_CURRENT_LIST_DIR}/tests/invariant_checker_test.cpp
    LIBS ms_sim_checking
    LABELS sim)
endif()
