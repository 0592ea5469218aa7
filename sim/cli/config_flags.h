// The flags of `modelstore-sim run` that shape a run, one table: each flag
// reads its value into a SimConfig field (strictly: cli_values.h) and
// prints that field back. The table is what `run` parses, what validates a
// --config file, and what writes the re-run line of a failure, so a flag
// added here is on every re-run line.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "sim/workload/simulator.h"

namespace ms::cli {

struct ConfigFlag {
  const char* name;  // "--actors"
  std::string help;
  // Reads text into config; the error does not name the flag (the caller does).
  Status (*set)(sim::SimConfig* config, std::string_view text);
  // The field as the flag's value ("1" / "0" for a switch).
  std::string (*get)(const sim::SimConfig& config);
  bool is_switch = false;  // given bare (--break-entry-lock), never with a value
  const char* value_name = "N";  // in --help: N, P (a probability), 0|1, LIST, SPEC
};

const std::vector<ConfigFlag>& ConfigFlags();

// Every field the table knows is in range (what a --config file or a trace
// header must satisfy too): the first offending flag's error, named
// "<what>: <key>: ...".
Status ValidateConfig(const sim::SimConfig& config, std::string_view what);

// "--seed S --strategy random --actors 4 ...": every flag of the table,
// or "" when the flags cannot express config (explicit scripts, crash or
// fault points, or a field the table lacks): then only the trace file's
// header (run --config TRACE) rebuilds the run.
std::string RerunFlags(const sim::SimConfig& config);

// The config's canonical text without its seed line: what identifies a
// campaign's configuration (a report's, a merge's).
std::string ConfigTextWithoutSeed(const sim::SimConfig& config);

// A campaign's configuration as key -> value(s), from its canonical text
// (keys the simulator adds appear without any change here).
std::vector<std::pair<std::string, std::string>> ConfigPairs(const sim::SimConfig& config);

}  // namespace ms::cli
