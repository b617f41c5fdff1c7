#pragma once
// walship's documented, stable exit codes (README "Exit codes").

#include "base/status.h"

namespace walship::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,          // unexpected or internal error
  kExitUsage = 2,            // bad flags, arguments or config
  kExitNotFound = 3,         // no backups, database or object not found
  kExitCorruption = 4,       // checksum mismatch, corrupt file, integrity check failed
  kExitExists = 5,           // refused: output exists, another replicate running, object exists
  kExitOutOfRange = 6,       // point before the first or after the last restorable position
  kExitPrecondition = 7,     // gap in the TXID chain, inconsistent replica or state
  kExitIO = 8,               // local file system error, disk full
  kExitUnavailable = 9,      // replica storage unreachable or failing
};

inline int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return kExitOk;
    case Code::kInvalidArgument: return kExitUsage;
    case Code::kNotFound: return kExitNotFound;
    case Code::kCorruption: return kExitCorruption;
    case Code::kAlreadyExists: return kExitExists;
    case Code::kOutOfRange: return kExitOutOfRange;
    case Code::kFailedPrecondition: return kExitPrecondition;
    case Code::kIOError:
    case Code::kNoSpace: return kExitIO;
    case Code::kUnavailable:
    case Code::kUnimplemented:  // the storage lacks an operation (an S3 server's 501)
    case Code::kBusy: return kExitUnavailable;
    case Code::kCancelled:
    case Code::kInternal: return kExitFailure;
  }
  return kExitFailure;
}

}  // namespace walship::cli
