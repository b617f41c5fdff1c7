#pragma once
// Restore: rebuild a database file at a point from a replica.
//
// ApplyPlan downloads the planned files in parallel ranged reads and writes
// each page straight to its place (see restore/apply.h for the engine) in a
// temp file beside the output, "<output>.walship-restore", with its resume
// journal "<output>.walship-restore.json". Every file's LTX checksum is
// verified, and every page of the result must come from some file. Then the
// temp file is fsync'd, integrity-checked, and moved into place (link, so an
// existing output is never clobbered without force; an empty output is
// replaced) and the directory fsync'd. Nothing is ever at the output path
// until success.
//
// On error: corruption, a bad plan or a failed integrity check remove the
// temp file and journal; I/O, network and cancellation errors keep both and
// say so ("partial restore kept at X; rerun the same command to resume"). A
// rerun with resume (the default) keeps the chunks already written of the
// leading files that did not change; any mismatch starts from zero.
//
// Memory is bounded by parallelism, not by the database's size (apply.h
// lists the buffers: at most about parallelism x 3 MiB + 21 MiB, plus 1 bit
// per page).

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
  // Called with (bytes done so far, total bytes of the plan) as data arrives,
  // from any worker thread (calls are serialised). Resumed bytes count as done.
  std::function<void(uint64_t, uint64_t)> progress;
  // Concurrent ranged downloads (and decoding threads).
  int parallelism = 8;
  // Work item in bytes of page frames. The snapshot is read as one stream
  // (one GET of the whole object) cut into chunks of this size for the
  // decoding threads; later files are read in ranges of at least this size,
  // about 8 per file, of at most max_chunk_bytes (reads are streamed: memory
  // per worker does not depend on the range).
  uint64_t chunk_bytes = 2 << 20;
  // Largest ranged read (tests set it to chunk_bytes to get many small ranges).
  uint64_t max_chunk_bytes = uint64_t{128} << 20;
  // When the snapshot's stream is slower than its decoding (the stream's
  // reader has not waited for the decoders for this long), an idle thread
  // reads the upper half of what is left with a ranged read of its own, and
  // so on up to `parallelism` reads. Negative: never (one stream).
  int64_t split_after_ms = 100;
  // Continue from "<output>.walship-restore" and its journal if they match.
  bool resume = true;
  // The output is fdatasync'd in the background after every sync_every_bytes
  // written (so the disk writes the database while it is decoded, and the
  // final fdatasync finds little left), and at least every journal_every_ms
  // while chunks are done; the resume journal then records the chunks
  // written before it.
  uint64_t sync_every_bytes = 64 << 20;
  int64_t journal_every_ms = 1000;
};

struct RestoreResult {
  Plan plan;
  uint32_t pages = 0;
  uint32_t page_size = 0;
  uint64_t bytes_read = 0;     // read from the store by this run
  uint64_t bytes_resumed = 0;  // page-frame bytes kept from an interrupted run
};

// Where ApplyPlan builds the output, and its resume journal.
std::string TempPath(const std::string& output);
std::string JournalPath(const std::string& output);

// Checks that output may be written: kAlreadyExists if it (or a stale -wal)
// exists and !force.
Status CheckOutput(const std::string& output, bool force);

Result<RestoreResult> Restore(const replica::Replica& r, const RestoreOptions& opts);
// Applies an already computed plan.
Result<RestoreResult> ApplyPlan(const replica::Replica& r, const Plan& plan, const RestoreOptions& opts);

}  // namespace walship::restore
