#include "sim/workload/simulator.h"

#include <algorithm>

#include "sim/workload/world.h"

namespace ms::sim {

SimReport RunSimulation(const SimConfig& config, std::shared_ptr<const Trace> replay) {
  World world(config, std::move(replay));
  return world.Run();
}

Result<std::pair<SimConfig, Trace>> ParseTraceFile(std::string_view text) {
  constexpr std::string_view kMagic = "modelstore-sim trace v1\n";
  if (text.substr(0, kMagic.size()) != kMagic) {
    return Status(Code::kCorrupt, "not a modelstore-sim trace (first line must be \"modelstore-sim trace v1\")");
  }
  text.remove_prefix(kMagic.size());
  const size_t sep = text.find("---\n");
  if (sep == std::string_view::npos) return Status(Code::kCorrupt, "trace file has no \"---\" separator");
  MS_ASSIGN_OR_RETURN(SimConfig config, SimConfig::Parse(text.substr(0, sep)));
  // The schedule's first line: after the magic, the header and "---".
  const size_t first_line = 3 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(sep), '\n'));
  MS_ASSIGN_OR_RETURN(Trace trace, Trace::Parse(text.substr(sep + 4), first_line));
  return std::make_pair(std::move(config), std::move(trace));
}

}  // namespace ms::sim
