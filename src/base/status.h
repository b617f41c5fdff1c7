#pragma once
// Status and Result<T>: walship's error values. Our code does not throw.
//
// A Status carries a code, a human message that reads like a path
// ("restore: fetch ltx/0/...: checksum mismatch"), and a retryable bit. Codes
// are stable: the CLI maps them to documented exit codes (cli/exit_codes.h).

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace walship {

enum class Code {
  kOk = 0,
  kInvalidArgument,    // bad flag, config value, URL, or caller misuse
  kNotFound,           // object, file, or position does not exist
  kAlreadyExists,      // refuse to overwrite (restore output, replica object)
  kCorruption,         // checksum mismatch, malformed file: never retried
  kIOError,            // local file system error
  kNoSpace,            // ENOSPC / EDQUOT
  kUnavailable,        // network / server error; usually retryable
  kFailedPrecondition, // state does not allow the operation (gap in chain, locked db)
  kOutOfRange,         // point before the first or after the last position
  kBusy,               // SQLITE_BUSY and friends
  kCancelled,          // stop requested
  kInternal,           // a bug
  kUnimplemented,      // the backend has no such operation (the caller has another way)
};

std::string_view CodeName(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string msg, bool retryable = false)
      : code_(code), msg_(std::move(msg)), retryable_(retryable) {}

  static Status OK() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return msg_; }
  bool retryable() const { return retryable_; }

  // "context: message", keeping code and retryable bit.
  Status WithContext(std::string_view context) const;
  std::string ToString() const;

  void IgnoreError() const {}

 private:
  Code code_ = Code::kOk;
  std::string msg_;
  bool retryable_ = false;
};

inline Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
inline Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
inline Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
inline Status Unavailable(std::string m, bool retryable = true) {
  return Status(Code::kUnavailable, std::move(m), retryable);
}
inline Status FailedPrecondition(std::string m) { return Status(Code::kFailedPrecondition, std::move(m)); }
inline Status OutOfRange(std::string m) { return Status(Code::kOutOfRange, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status Cancelled(std::string m) { return Status(Code::kCancelled, std::move(m)); }
inline Status Unimplemented(std::string m) { return Status(Code::kUnimplemented, std::move(m)); }

// errno -> Status, naming the operation and path: "open /x/y: No such file or directory".
Status ErrnoStatus(std::string_view op, std::string_view path, int err);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status s) : v_(std::move(s)) {      // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result constructed from OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  Status status() const { return ok() ? Status::OK() : std::get<Status>(v_); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace walship

#define WALSHIP_CONCAT_INNER(a, b) a##b
#define WALSHIP_CONCAT(a, b) WALSHIP_CONCAT_INNER(a, b)

#define WALSHIP_RETURN_IF_ERROR(expr)          \
  do {                                         \
    ::walship::Status _st = (expr);            \
    if (!_st.ok()) return _st;                 \
  } while (0)

#define WALSHIP_RETURN_IF_ERROR_CTX(expr, ctx) \
  do {                                         \
    ::walship::Status _st = (expr);            \
    if (!_st.ok()) return _st.WithContext(ctx); \
  } while (0)

#define WALSHIP_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

#define WALSHIP_ASSIGN_OR_RETURN(lhs, expr) \
  WALSHIP_ASSIGN_OR_RETURN_IMPL(WALSHIP_CONCAT(_res_, __LINE__), lhs, expr)
