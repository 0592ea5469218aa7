#include "proptests/known_findings.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <vector>

#ifndef MS_PROP_SOURCE_DIR
#define MS_PROP_SOURCE_DIR ""
#endif

namespace ms::prop {
namespace {

struct Known {
  std::string name;
  std::string invariant;
  std::vector<std::regex> details;
};

std::vector<Known> LoadKnown() {
  std::vector<Known> out;
  if (SourceDir().empty()) return out;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(SourceDir() + "/fixtures/regressions/open", ec)) {
    if (e.path().extension() == ".known") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    Known k;
    k.name = path.stem().string();
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("invariant=", 0) == 0) k.invariant = line.substr(10);
      if (line.rfind("detail=", 0) == 0) k.details.emplace_back(line.substr(7));
    }
    if (!k.invariant.empty()) out.push_back(std::move(k));
  }
  return out;
}

}  // namespace

std::string SourceDir() {
  const char* env = std::getenv("MS_SOURCE_DIR");
  return env != nullptr && *env != '\0' ? env : MS_PROP_SOURCE_DIR;
}

std::string KnownOpenFinding(const sim::Violation& violation) {
  const char* strict = std::getenv("MS_PROP_STRICT");
  if (strict != nullptr && std::string(strict) == "1") return "";
  static const std::vector<Known> known = LoadKnown();
  for (const Known& k : known) {
    if (k.invariant != violation.invariant) continue;
    bool all = true;
    for (const std::regex& re : k.details) all = all && std::regex_search(violation.detail, re);
    if (all) return k.name;
  }
  return "";
}

}  // namespace ms::prop
