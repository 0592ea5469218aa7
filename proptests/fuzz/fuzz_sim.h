// The fuzz entry point (fuzz_sim.cpp), declared for the corpus runner.
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
