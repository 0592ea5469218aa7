#include "sim/cli/cli_values.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace ms::cli {
namespace {

Status Bad(std::string_view text, std::string_view want) {
  return Status(Code::kInvalidArgument, "\"" + std::string(text) + "\" is not " + std::string(want));
}

bool AllDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// A finite, non-negative decimal number ("0.005", "5e-3"); no "nan", "inf",
// hex or leading sign.
Result<double> ParseDecimal(std::string_view text, std::string_view want) {
  if (text.empty() || !((text[0] >= '0' && text[0] <= '9') || text[0] == '.')) return Bad(text, want);
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) return Bad(text, want);
  }
  double value = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || !std::isfinite(value) || value < 0) {
    return Bad(text, want);
  }
  return value;
}

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

}  // namespace

Result<uint64_t> ParseUnsigned(std::string_view text, uint64_t max) {
  if (!AllDigits(text)) return Bad(text, "a non-negative integer");
  uint64_t value = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (r.ec == std::errc::result_out_of_range || (r.ec == std::errc() && value > max)) {
    return Status(Code::kInvalidArgument, std::string(text) + " is out of range (at most " + std::to_string(max) + ")");
  }
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return Bad(text, "a non-negative integer");
  return value;
}

Result<int> ParseIntIn(std::string_view text, int min, int max) {
  const std::string range = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!AllDigits(text)) return Bad(text, range);
  uint64_t value = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (r.ec != std::errc() || value < static_cast<uint64_t>(min) || value > static_cast<uint64_t>(max)) {
    return Bad(text, range);
  }
  return static_cast<int>(value);
}

Result<double> ParseRate(std::string_view text) {
  MS_ASSIGN_OR_RETURN(const double value, ParseDecimal(text, "a probability in [0, 1]"));
  if (value > 1.0) return Bad(text, "a probability in [0, 1]");
  return value;
}

Result<bool> ParseZeroOne(std::string_view text) {
  if (text == "0") return false;
  if (text == "1") return true;
  return Bad(text, "0 or 1");
}

Result<double> ParseDurationSeconds(std::string_view text) {
  constexpr std::string_view kWant = "a duration (a positive number of seconds, or with unit s, m or h: 90s, 10m, 1.5h)";
  double unit = 1;
  std::string_view number = text;
  if (!number.empty()) {
    switch (number.back()) {
      case 's': unit = 1; number.remove_suffix(1); break;
      case 'm': unit = 60; number.remove_suffix(1); break;
      case 'h': unit = 3600; number.remove_suffix(1); break;
      default: break;
    }
  }
  auto value = ParseDecimal(number, kWant);
  if (!value.ok() || *value <= 0) return Bad(text, kWant);
  return *value * unit;
}

Result<Shard> ParseShard(std::string_view text) {
  const size_t slash = text.find('/');
  const std::string_view index = text.substr(0, slash);
  const std::string_view count = slash == std::string_view::npos ? std::string_view() : text.substr(slash + 1);
  constexpr std::string_view kWant = "I/N with 0 <= I < N, auto or auto/N";
  if (index == "auto") {
    uint64_t n = 0;
    if (slash != std::string_view::npos) {
      auto parsed = ParseUnsigned(count);
      if (!parsed.ok() || *parsed == 0) return Bad(text, kWant);
      n = *parsed;
    }
    return ShardFromEnvironment(n);
  }
  auto i = ParseUnsigned(index);
  auto n = ParseUnsigned(count);
  if (slash == std::string_view::npos || !i.ok() || !n.ok() || *n == 0 || *i >= *n) return Bad(text, kWant);
  return Shard{*i, *n};
}

Result<Shard> ShardFromEnvironment(uint64_t count_override) {
  Shard shard;
  std::string source;
  if (const char* v = Env("MS_SHARD_INDEX")) {
    source = "MS_SHARD_INDEX";
  } else if ((v = Env("JOB_COMPLETION_INDEX"))) {
    source = "JOB_COMPLETION_INDEX";
  } else if ((v = Env("SLURM_ARRAY_TASK_ID"))) {
    source = "SLURM_ARRAY_TASK_ID";
  }
  if (source.empty()) {
    return Status(Code::kInvalidArgument,
                  "auto: no shard index in the environment (MS_SHARD_INDEX, JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID)");
  }
  auto index = ParseUnsigned(Env(source.c_str()));
  if (!index.ok()) return Status(Code::kInvalidArgument, "auto: " + source + ": " + index.status().message());
  shard.index = *index;
  if (source == "SLURM_ARRAY_TASK_ID") {
    if (const char* min = Env("SLURM_ARRAY_TASK_MIN")) {
      auto m = ParseUnsigned(min);
      if (!m.ok() || *m > shard.index) return Status(Code::kInvalidArgument, "auto: SLURM_ARRAY_TASK_MIN is not <= SLURM_ARRAY_TASK_ID");
      shard.index -= *m;
    }
  }
  std::string count_source = "auto/N";
  if (count_override > 0) {
    shard.count = count_override;
  } else {
    const char* c = nullptr;
    if ((c = Env("MS_SHARD_COUNT"))) {
      count_source = "MS_SHARD_COUNT";
    } else if ((c = Env("SLURM_ARRAY_TASK_COUNT"))) {
      count_source = "SLURM_ARRAY_TASK_COUNT";
    } else {
      return Status(Code::kInvalidArgument,
                    "auto: no shard count (give auto/N, or set MS_SHARD_COUNT or SLURM_ARRAY_TASK_COUNT)");
    }
    auto n = ParseUnsigned(c);
    if (!n.ok() || *n == 0) return Status(Code::kInvalidArgument, "auto: " + count_source + " is not a positive integer");
    shard.count = *n;
  }
  if (shard.index >= shard.count) {
    return Status(Code::kInvalidArgument, "auto: shard index " + std::to_string(shard.index) + " (" + source +
                                              ") is not below the count " + std::to_string(shard.count) + " (" +
                                              count_source + ")");
  }
  return shard;
}

}  // namespace ms::cli
