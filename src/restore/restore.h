#pragma once
// Restore: rebuild a database file at a point from a replica.
//
// Streams the planned files through ltx::PageMerger (one page per input in
// memory) into "<output>.tmp" beside the output, writing pages 1..Commit in
// order (zeros at the lock page), fsyncs, runs the integrity check on the temp
// file, then moves it into place and fsyncs the directory. On any error the
// temp file is removed: nothing partial is ever left at the output path.

#include <cstdint>
#include <functional>
#include <string>

#include "base/status.h"
#include "replica/replica.h"
#include "restore/plan.h"

namespace walship::restore {

enum class IntegrityCheck { kNone, kQuick, kFull };

struct RestoreOptions {
  std::string output;
  Point point;
  bool force = false;  // replace an existing output (and its -wal/-shm/-journal)
  IntegrityCheck integrity = IntegrityCheck::kQuick;
  // Called with (bytes read so far, total bytes of the plan) as data arrives.
  std::function<void(uint64_t, uint64_t)> progress;
};

struct RestoreResult {
  Plan plan;
  uint32_t pages = 0;
  uint32_t page_size = 0;
  uint64_t bytes_read = 0;
};

// Checks that output may be written: kAlreadyExists if it (or a stale -wal)
// exists and !force.
Status CheckOutput(const std::string& output, bool force);

Result<RestoreResult> Restore(const replica::Replica& r, const RestoreOptions& opts);
// Applies an already computed plan.
Result<RestoreResult> ApplyPlan(const replica::Replica& r, const Plan& plan, const RestoreOptions& opts);

}  // namespace walship::restore
