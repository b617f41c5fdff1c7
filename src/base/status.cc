#include "base/status.h"

#include <cerrno>
#include <cstring>

namespace walship {

std::string_view CodeName(Code c) {
  switch (c) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kAlreadyExists: return "already exists";
    case Code::kCorruption: return "corruption";
    case Code::kIOError: return "io error";
    case Code::kNoSpace: return "no space";
    case Code::kUnavailable: return "unavailable";
    case Code::kFailedPrecondition: return "failed precondition";
    case Code::kOutOfRange: return "out of range";
    case Code::kBusy: return "busy";
    case Code::kCancelled: return "cancelled";
    case Code::kInternal: return "internal";
    case Code::kUnimplemented: return "unimplemented";
  }
  return "unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += msg_;
  return Status(code_, std::move(m), retryable_);
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return msg_;
}

Status ErrnoStatus(std::string_view op, std::string_view path, int err) {
  std::string m(op);
  if (!path.empty()) {
    m += " ";
    m += path;
  }
  m += ": ";
  m += std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Status(Code::kNoSpace, std::move(m));
  if (err == ENOENT) return Status(Code::kNotFound, std::move(m));
  if (err == EEXIST) return Status(Code::kAlreadyExists, std::move(m));
  return Status(Code::kIOError, std::move(m));
}

}  // namespace walship
