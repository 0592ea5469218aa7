// Status and Result: errors are values. Every port call and every store
// operation returns one; nothing throws across a port boundary.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ms {

// One code per failure the store must tell apart. The POSIX errno each one
// stands for is in the comment; the simulated filesystem injects the same.
enum class Code {
  kOk = 0,
  kNotFound,          // ENOENT
  kAlreadyExists,     // EEXIST
  kNotEmpty,          // ENOTEMPTY
  kNotDirectory,      // ENOTDIR
  kIsDirectory,       // EISDIR
  kNoSpace,           // ENOSPC
  kIo,                // EIO
  kCrossDevice,       // EXDEV
  kTooManyLinks,      // EMLINK
  kPermission,        // EACCES / EPERM
  kInvalidArgument,   // bad input from a caller: digest, reference, name
  kCorrupt,           // bad input from disk or registry: JSON, digest mismatch
  kConflict,          // mount id reused for another reference
  kCanceled,          // the operation was canceled by the caller
  kDeadlineExceeded,  // the operation ran past its deadline
  kUnavailable,       // transient registry failure
  kUnsupported,       // a well-formed input this store does not handle
  kInternal,          // a broken invariant inside the store
};

std::string_view CodeName(Code code);

// An input as an error message quotes it: in double quotes, at most
// max_bytes of it (then "..."), '"' and '\' escaped with '\', other control
// bytes (NUL, newline, ...) as \xNN. So a hostile name can neither cut a
// C-string log line short nor start a new one, and every error stays one
// line that names its input.
std::string QuoteInput(std::string_view text, size_t max_bytes = 512);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "NotFound: stat /root/x: no such file" — for logs and test failures.
  std::string ToString() const;

  // Returns a copy whose message is "context: message".
  Status Annotate(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  Code code() const { return ok() ? Code::kOk : std::get<Status>(v_).code(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ms

// Early return on error, for functions returning Status or Result<T>.
#define MS_RETURN_IF_ERROR(expr)              \
  do {                                        \
    ::ms::Status ms_status_ = (expr);         \
    if (!ms_status_.ok()) return ms_status_;  \
  } while (0)

#define MS_CONCAT_INNER(a, b) a##b
#define MS_CONCAT(a, b) MS_CONCAT_INNER(a, b)
#define MS_ASSIGN_OR_RETURN(lhs, expr) \
  MS_ASSIGN_OR_RETURN_IMPL(MS_CONCAT(ms_result_, __LINE__), lhs, expr)
#define MS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
