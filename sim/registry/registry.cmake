# The fake OCI registry, the OCI image-layout reader/writer, the model
# builder and its ustar writer: everything that makes registry content.
add_library(ms_fake_registry
  ${CMAKE_CURRENT_LIST_DIR}/tar_writer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model_builder.cpp
  ${CMAKE_CURRENT_LIST_DIR}/oci_layout.cpp
  ${CMAKE_CURRENT_LIST_DIR}/fake_registry.cpp
  ${CMAKE_CURRENT_LIST_DIR}/hostile_models.cpp
)
target_link_libraries(ms_fake_registry
  PUBLIC ms_core nlohmann_json::nlohmann_json
  PRIVATE ms_warnings)

if(BUILD_TESTING)
  ms_add_gtest(fake_registry_tests
    SOURCES
      ${CMAKE_CURRENT_LIST_DIR}/tests/fake_registry_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/tests/model_builder_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/tests/oci_layout_test.cpp
      ${CMAKE_CURRENT_LIST_DIR}/tests/hostile_models_test.cpp
    LIBS ms_fake_registry
    LABELS sim)
endif()
