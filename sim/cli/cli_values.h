// Strict parsing of command-line values: a value is taken whole or refused
// with a message the caller prefixes with the flag's name. No sign where
// none belongs, no wrap-around, no NaN, no silently clamped range.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ms::cli {

// Decimal digits only, at most max.
Result<uint64_t> ParseUnsigned(std::string_view text, uint64_t max = UINT64_MAX);
// Decimal digits only, in [min, max].
Result<int> ParseIntIn(std::string_view text, int min, int max);
// A probability: a finite decimal number in [0, 1].
Result<double> ParseRate(std::string_view text);
// "0" or "1".
Result<bool> ParseZeroOne(std::string_view text);
// A duration: a positive number with an optional unit s, m or h ("90",
// "90s", "10m", "1.5h"); seconds.
Result<double> ParseDurationSeconds(std::string_view text);

struct Shard {
  uint64_t index = 0;
  uint64_t count = 1;
};
// "I/N" with 0 <= I < N; "auto" or "auto/N" takes what the environment
// gives (see ShardFromEnvironment).
Result<Shard> ParseShard(std::string_view text);

// The shard a batch system assigned to this process: index from
// MS_SHARD_INDEX, JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) or
// SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN); count from
// count_override (non-zero), MS_SHARD_COUNT or SLURM_ARRAY_TASK_COUNT.
Result<Shard> ShardFromEnvironment(uint64_t count_override);

}  // namespace ms::cli
