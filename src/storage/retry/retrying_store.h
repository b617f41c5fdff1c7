#pragma once
// RetryingStore: an ObjectStore decorator that retries transient failures of
// the store it wraps, with exponential backoff and full jitter. Backends never
// retry by themselves; this is the one place that does.
//
// What is retried: only statuses with retryable() set (the backends set it for
// 5xx, 429, SlowDown, timeouts and connection resets). Never kNotFound,
// kAlreadyExists, kCorruption, other 4xx, or anything else without the bit
// (kNotFound, kAlreadyExists, kCorruption, kInvalidArgument and kCancelled are
// never retried even if a backend set the bit by mistake).
// Attempt k (k = 1, 2, ...) that fails retryably is followed by a wait drawn
// uniformly from [0, min(max_delay_ms, base_delay_ms * 2^(k-1))] ("full
// jitter"), at most max_attempts attempts in all.
//
// Errors: the inner status is returned with its code and retryable bit; when
// more than one attempt was made, or the last retryable failure ends the
// retries, " (N attempts)" is appended, e.g.
//   "s3 PUT db/0000/...ltx: 503 SlowDown (10 attempts)".
// A stop (Cancel() or RetryOptions::stop) during a backoff wait ends the call
// promptly with kCancelled: "<last error> (N attempts; cancelled during backoff)".
// It does not interrupt a call already inside the inner store.
//
// Put bodies. A retry must re-send the body from its first byte, so Put picks,
// in this order:
//   1. body is a RewindableSource (storage/retry/body.h): Rewind() before each
//      retry. No copy. Use FileSource (base/io.h) for files of any size.
//   2. size <= max_buffered_body (16 MiB by default): the body is read into
//      memory once and every attempt reads that copy (so memory is bounded by
//      max_buffered_body per concurrent Put).
//   3. otherwise the Put is attempted once, not retried; a retryable failure
//      says so in its message ("not retried: body not rewindable ...").
// PutFrom() takes a BodyFactory instead and opens a fresh body per attempt.
//
// Put with no_overwrite after an unknown outcome ("ack lost": the server
// applied an attempt but the response was lost) gets kAlreadyExists on the
// retry. That is NOT turned into success here: the caller compares checksums.
// The status keeps kAlreadyExists and its message says
// "...; an earlier attempt may have succeeded)"; see
// EarlierAttemptMayHaveSucceeded().
//
// Open: opening is retried; the returned stream resumes after a retryable
// mid-stream read error by re-opening the object at the current offset (same
// backoff and attempt limit, counted per failure episode, reset by progress).
// The stream refers to this store: the store must outlive it.
//
// Thread safety: every method may be called concurrently (as the inner store
// allows). The inner store must outlive this one unless passed as shared_ptr.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <stop_token>
#include <string>

#include "base/clock.h"
#include "storage/object_store.h"
#include "storage/retry/body.h"

namespace walship::storage {

struct RetryOptions {
  int max_attempts = 10;          // in all, including the first; >= 1
  int64_t base_delay_ms = 100;    // ceiling of the first backoff wait
  int64_t max_delay_ms = 30'000;  // ceiling of any backoff wait
  // Total time budget measured on `clock` from the first attempt: no retry is
  // started whose wait would end past it. 0 = no budget.
  int64_t max_elapsed_ms = 0;
  // Largest non-rewindable Put body copied into memory so it can be re-sent.
  uint64_t max_buffered_body = 16u << 20;
  // Seed of the jitter RNG; 0 = seeded from std::random_device.
  uint64_t seed = 0;
  // nullptr = SystemClock::Default().
  Clock* clock = nullptr;
  // Waits delay_ms, or less if `stop` is requested; returns false if stopped.
  // Empty = a real wait that wakes on stop. Tests inject one that advances a
  // FakeClock and returns at once.
  std::function<bool(int64_t delay_ms, std::stop_token stop)> sleeper;
  // An outside stop (e.g. the daemon's shutdown token); Cancel() also stops.
  std::stop_token stop;
};

class RetryingStore final : public ObjectStore {
 public:
  // `inner` is not owned and must outlive this store.
  RetryingStore(ObjectStore* inner, RetryOptions opts = {});
  RetryingStore(std::shared_ptr<ObjectStore> inner, RetryOptions opts = {});
  ~RetryingStore() override;
  RetryingStore(const RetryingStore&) = delete;
  RetryingStore& operator=(const RetryingStore&) = delete;

  std::string Describe() const override { return inner_->Describe(); }
  Status Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) override;
  // Like Put, but opens a fresh body for every attempt; any size is retried.
  Status PutFrom(const std::string& key, const BodyFactory& body, uint64_t size, const PutOptions& opts);
  // The stream is resumable (see above); it must not outlive this store.
  Result<std::unique_ptr<Source>> Open(const std::string& key, uint64_t offset = 0,
                                       std::optional<uint64_t> length = std::nullopt) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after = "") override;
  Status Delete(const std::vector<std::string>& keys) override;
  // Retried like a Put (a kAlreadyExists after a lost reply is marked).
  Status Copy(const std::string& src, const std::string& dst, const PutOptions& opts) override;

  // Stops every current and future backoff wait (shutdown). Irreversible.
  void Cancel() { stop_.request_stop(); }
  bool cancelled() const { return stop_.stop_requested(); }

  // The wait before retry number `retry` (1 = after the first failure): uniform
  // in [0, BackoffCeilingMs(retry)], drawn from the seeded RNG.
  int64_t NextDelayMs(int retry);
  int64_t BackoffCeilingMs(int retry) const;

  // Whether a kAlreadyExists from Put came after an attempt with an unknown outcome.
  static bool EarlierAttemptMayHaveSucceeded(const Status& s);

  // Counters for metrics and tests.
  uint64_t retries() const { return retries_.load(); }        // backoff waits started
  uint64_t resumed_reads() const { return resumed_.load(); }  // mid-stream re-opens that succeeded

  const RetryOptions& options() const { return opts_; }

 private:
  friend class ResumableSource;
  struct StopLink {
    std::stop_source* target;
    void operator()() const { target->request_stop(); }
  };

  // Runs attempt(n) for n = 1, 2, ... until it succeeds, fails for good, or the
  // limits or a stop end it. *attempts gets the number of attempts made.
  // put_no_overwrite: a final kAlreadyExists after a failed attempt is marked
  // "an earlier attempt may have succeeded".
  Status RunStatus(const std::function<Status()>& attempt, int* attempts, bool put_no_overwrite);
  // Waits before retry `retry` after `last`; false if stopped or over the time
  // budget, with the status to return in *why.
  bool Backoff(int retry, int64_t start_ms, const Status& last, Status* why);
  Status Final(const Status& last, int attempts, bool put_no_overwrite) const;

  std::shared_ptr<ObjectStore> owned_;
  ObjectStore* inner_;
  RetryOptions opts_;
  Clock* clock_;
  std::stop_source stop_;
  std::optional<std::stop_callback<StopLink>> link_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> resumed_{0};
};

}  // namespace walship::storage
