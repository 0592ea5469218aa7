// main() of every property binary: RC_PARAMS defaults first (RapidCheck
// reads RC_PARAMS once, at its first property), then GoogleTest.
#include <gtest/gtest.h>

#include "proptests/prop_support.h"

int main(int argc, char** argv) {
  ms::prop::ApplyRcDefaults();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
