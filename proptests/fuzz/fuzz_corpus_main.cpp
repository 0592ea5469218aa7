// fuzz_sim_corpus PATH...: runs the fuzz entry point over every file (or
// every file of every directory) given, the way libFuzzer replays a corpus,
// without libFuzzer: built by any compiler, so the target and its seed
// corpus are exercised by every `./run test` and cannot rot. A violation
// aborts (the entry point prints the trace file first).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "proptests/fuzz/fuzz_sim.h"

namespace {

int RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "error: cannot read %s\n", path.c_str());
    return 1;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
  std::fflush(stdout);
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz_sim_corpus FILE_OR_DIR...\n");
    return 2;
  }
  size_t inputs = 0;
  int errors = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path p(argv[i]);
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(p);
    }
    for (const auto& f : files) {
      errors += RunFile(f);
      ++inputs;
    }
  }
  if (inputs == 0) {
    std::fprintf(stderr, "error: no input files\n");
    return 2;
  }
  std::printf("%zu inputs, every invariant held\n", inputs - static_cast<size_t>(errors));
  return errors == 0 ? 0 : 1;
}
