#include "sim/scheduling/trace.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <system_error>

namespace ms::sim {

namespace {

constexpr std::string_view kMagic = "ms-trace 1";
constexpr char kHexDigits[] = "0123456789ABCDEF";

void AppendEscaped(std::string* out, std::string_view raw) {
  for (unsigned char c : raw) {
    if (c > 0x20 && c < 0x7f && c != '%') {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('%');
      out->push_back(kHexDigits[c >> 4]);
      out->push_back(kHexDigits[c & 0xf]);
    }
  }
}

// Decimal, without a temporary string: the schedule has one number per step.
void AppendNumber(std::string* out, uint64_t value) {
  char buf[20];
  const auto result = std::to_chars(buf, buf + sizeof buf, value);
  out->append(buf, result.ptr);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

template <typename T>
bool ParseNumber(std::string_view text, T* value, int base = 10) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value, base);
  return ec == std::errc() && end == text.data() + text.size();
}

// Reads the text form line by line, keeping the line number for errors.
class LineReader {
 public:
  LineReader(std::string_view text, size_t first_line) : text_(text), line_number_(first_line - 1) {}

  bool Next(std::string_view* line) {
    if (pos_ >= text_.size()) return false;
    const size_t end = text_.find('\n', pos_);
    const size_t stop = end == std::string_view::npos ? text_.size() : end;
    *line = text_.substr(pos_, stop - pos_);
    pos_ = stop + 1;
    ++line_number_;
    return true;
  }

  Status Error(std::string_view what) const {
    return Status(Code::kCorrupt, "trace line " + std::to_string(line_number_) + ": " + std::string(what));
  }

  // Reads the next line, which must be "<keyword> <rest>"; returns rest.
  Status Expect(std::string_view keyword, std::string_view* rest) {
    std::string_view line;
    if (!Next(&line)) return Error("unexpected end of trace, expected '" + std::string(keyword) + "'");
    if (line.size() <= keyword.size() || line.substr(0, keyword.size()) != keyword ||
        line[keyword.size()] != ' ') {
      return Error("expected '" + std::string(keyword) + " ...', got '" + std::string(line) + "'");
    }
    *rest = line.substr(keyword.size() + 1);
    return Status::Ok();
  }

  template <typename T>
  Status ExpectNumber(std::string_view keyword, T* value) {
    std::string_view rest;
    MS_RETURN_IF_ERROR(Expect(keyword, &rest));
    if (!ParseNumber(rest, value)) return Error("bad number '" + std::string(rest) + "'");
    return Status::Ok();
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
  size_t line_number_;
};

Status Unescape(const LineReader& reader, std::string_view escaped, std::string* out) {
  out->clear();
  for (size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    if (c == '%') {
      if (i + 2 >= escaped.size()) {
        return reader.Error("truncated %-escape in '" + std::string(escaped) + "'");
      }
      const int hi = HexValue(escaped[i + 1]);
      const int lo = HexValue(escaped[i + 2]);
      if (hi < 0 || lo < 0) return reader.Error("bad %-escape in '" + std::string(escaped) + "'");
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return reader.Error("unescaped byte in '" + std::string(escaped) + "'");
    } else {
      out->push_back(c);
    }
  }
  return Status::Ok();
}

// Splits "<id> <rest>" and checks id == expected.
Status SplitIndexed(const LineReader& reader, std::string_view line, size_t expected,
                    std::string_view* rest) {
  const size_t space = line.find(' ');
  size_t id = 0;
  if (space == std::string_view::npos || !ParseNumber(line.substr(0, space), &id)) {
    return reader.Error("expected '<id> ...', got '" + std::string(line) + "'");
  }
  if (id != expected) {
    return reader.Error("id " + std::to_string(id) + " out of order, expected " + std::to_string(expected));
  }
  *rest = line.substr(space + 1);
  return Status::Ok();
}

Status ParseDecisionToken(const LineReader& reader, std::string_view token, const Trace& trace,
                          TraceDecision* decision, uint64_t* repeat) {
  const size_t dot = token.find('.');
  const size_t star = token.find('*');
  *repeat = 1;
  std::string_view label_text =
      token.substr(dot + 1, star == std::string_view::npos ? std::string_view::npos : star - dot - 1);
  if (dot == std::string_view::npos || !ParseNumber(token.substr(0, dot), &decision->actor) ||
      !ParseNumber(label_text, &decision->label) ||
      (star != std::string_view::npos && (!ParseNumber(token.substr(star + 1), repeat) || *repeat < 2))) {
    return reader.Error("bad decision '" + std::string(token) + "', expected <actor>.<label>[*<n>=2..]");
  }
  if (decision->actor >= trace.actors.size()) {
    return reader.Error("decision '" + std::string(token) + "' names actor " +
                        std::to_string(decision->actor) + " of " + std::to_string(trace.actors.size()));
  }
  if (decision->label >= trace.labels.size()) {
    return reader.Error("decision '" + std::string(token) + "' names label " +
                        std::to_string(decision->label) + " of " + std::to_string(trace.labels.size()));
  }
  return Status::Ok();
}

}  // namespace

std::string HashToHex(uint64_t hash) {
  std::string hex(16, '0');
  for (int i = 15; i >= 0; --i, hash >>= 4) hex[static_cast<size_t>(i)] = "0123456789abcdef"[hash & 0xf];
  return hex;
}

uint64_t Trace::Hash() const {
  uint64_t hash = kFnvOffsetBasis;
  for (const TraceDecision& d : decisions) {
    hash = (hash ^ d.actor) * kFnvPrime;
    hash = (hash ^ labels.HashOf(d.label)) * kFnvPrime;
  }
  return hash;
}

std::string Trace::DescribeStep(size_t step) const {
  std::string out = "step " + std::to_string(step) + ": ";
  if (step >= decisions.size()) return out + "(beyond the trace's " + std::to_string(decisions.size()) + " steps)";
  const TraceDecision& d = decisions[step];
  out += "#" + std::to_string(d.actor);
  if (d.actor < actors.size()) out += " " + actors[d.actor].name;
  out += " @ ";
  out += LabelOf(d);
  return out;
}

std::string Trace::ToText() const {
  std::string out;
  out.reserve(128 + decisions.size() * 6);
  out += kMagic;
  out += "\nstrategy ";
  AppendEscaped(&out, strategy);
  out += "\nseed " + std::to_string(seed);
  out += "\nactors " + std::to_string(actors.size()) + "\n";
  for (size_t i = 0; i < actors.size(); ++i) {
    out += "actor " + std::to_string(i) + " " + std::to_string(actors[i].process) + " ";
    AppendEscaped(&out, actors[i].name);
    out += "\n";
  }
  out += "labels " + std::to_string(labels.size()) + "\n";
  for (size_t i = 0; i < labels.size(); ++i) {
    out += "label " + std::to_string(i) + " ";
    AppendEscaped(&out, labels.Get(static_cast<LabelTable::Id>(i)));
    out += "\n";
  }
  out += "steps " + std::to_string(decisions.size()) + "\n";
  size_t on_line = 0;
  for (size_t i = 0; i < decisions.size();) {
    size_t run = 1;
    while (i + run < decisions.size() && decisions[i + run] == decisions[i]) ++run;
    out += on_line == 0 ? "d " : " ";
    AppendNumber(&out, decisions[i].actor);
    out += '.';
    AppendNumber(&out, decisions[i].label);
    if (run > 1) {
      out += '*';
      AppendNumber(&out, run);
    }
    if (++on_line == kDecisionsPerLine) {
      out += "\n";
      on_line = 0;
    }
    i += run;
  }
  if (on_line != 0) out += "\n";
  out += "hash " + HashToHex(Hash()) + "\nend\n";
  return out;
}

Result<Trace> Trace::Parse(std::string_view text, size_t first_line) {
  Trace trace;
  LineReader reader(text, first_line);
  std::string_view line;
  if (!reader.Next(&line) || line != kMagic) {
    return reader.Error("not a trace: expected first line '" + std::string(kMagic) + "'");
  }
  std::string_view rest;
  MS_RETURN_IF_ERROR(reader.Expect("strategy", &rest));
  MS_RETURN_IF_ERROR(Unescape(reader, rest, &trace.strategy));
  MS_RETURN_IF_ERROR(reader.ExpectNumber("seed", &trace.seed));

  size_t actor_count = 0;
  MS_RETURN_IF_ERROR(reader.ExpectNumber("actors", &actor_count));
  for (size_t i = 0; i < actor_count; ++i) {
    MS_RETURN_IF_ERROR(reader.Expect("actor", &rest));
    std::string_view fields;
    MS_RETURN_IF_ERROR(SplitIndexed(reader, rest, i, &fields));
    const size_t space = fields.find(' ');
    TraceActor actor;
    if (space == std::string_view::npos || !ParseNumber(fields.substr(0, space), &actor.process)) {
      return reader.Error("expected 'actor <id> <process> <name>'");
    }
    MS_RETURN_IF_ERROR(Unescape(reader, fields.substr(space + 1), &actor.name));
    trace.actors.push_back(std::move(actor));
  }

  size_t label_count = 0;
  MS_RETURN_IF_ERROR(reader.ExpectNumber("labels", &label_count));
  std::string label;
  for (size_t i = 0; i < label_count; ++i) {
    MS_RETURN_IF_ERROR(reader.Expect("label", &rest));
    std::string_view escaped;
    MS_RETURN_IF_ERROR(SplitIndexed(reader, rest, i, &escaped));
    MS_RETURN_IF_ERROR(Unescape(reader, escaped, &label));
    if (trace.labels.Intern(label) != i) return reader.Error("duplicate label '" + label + "'");
  }

  uint64_t steps = 0;
  MS_RETURN_IF_ERROR(reader.ExpectNumber("steps", &steps));
  trace.decisions.reserve(steps);
  while (trace.decisions.size() < steps) {
    MS_RETURN_IF_ERROR(reader.Expect("d", &rest));
    while (!rest.empty()) {
      const size_t space = rest.find(' ');
      const std::string_view token = rest.substr(0, space);
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
      TraceDecision decision;
      uint64_t repeat = 1;
      MS_RETURN_IF_ERROR(ParseDecisionToken(reader, token, trace, &decision, &repeat));
      if (repeat > steps - trace.decisions.size()) {
        return reader.Error("more decisions than the " + std::to_string(steps) + " steps declared");
      }
      trace.decisions.insert(trace.decisions.end(), repeat, decision);
    }
  }

  MS_RETURN_IF_ERROR(reader.Expect("hash", &rest));
  uint64_t declared = 0;
  if (rest.size() != 16 || !ParseNumber(rest, &declared, 16)) {
    return reader.Error("bad hash '" + std::string(rest) + "', expected 16 hex digits");
  }
  if (declared != trace.Hash()) {
    return reader.Error("hash mismatch: the file says " + std::string(rest) + ", its decisions hash to " +
                        HashToHex(trace.Hash()));
  }
  if (!reader.Next(&line) || line != "end") return reader.Error("expected 'end'");
  if (reader.Next(&line)) return reader.Error("unexpected text after 'end'");
  return trace;
}

Status Trace::WriteFile(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status(Code::kIo, "cannot open trace file '" + path + "' for writing");
  const std::string text = ToText();
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) return Status(Code::kIo, "cannot write trace file '" + path + "'");
  return Status::Ok();
}

Result<Trace> Trace::ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, "cannot open trace file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status(Code::kIo, "cannot read trace file '" + path + "'");
  Result<Trace> trace = Parse(text.str());
  if (!trace.ok()) return trace.status().Annotate(path);
  return trace;
}

}  // namespace ms::sim
