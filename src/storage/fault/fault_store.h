#pragma once
// FaultStore: an ObjectStore decorator for tests that injects failures into
// the store it wraps, by rules. Deterministic for a given seed and call order.
//
// A rule matches calls of one operation (or any) whose key starts with
// key_prefix (List: its prefix argument; Delete: any key of the batch).
// Each rule counts its own matching calls from 1 (from when it was added).
// A matching call number i fires the rule when i >= first, the rule has fired
// fewer than `times` times (-1 = no limit), and a draw from the seeded RNG is
// below `probability` (1.0 = always, no draw). What a firing rule does:
//   kFail      return `status` without calling the inner store.
//   kAckLost   call the inner store (the write is applied), then return
//              `status` anyway: the response was lost.
//   kHang      block until Cancel(), the stop token, or hang_limit_ms of real
//              time; then kCancelled (cancelled) or a retryable kUnavailable
//              "timed out" (the limit models a request timeout).
//   kLatency   wait latency_ms through the sleeper, then call the inner store.
//   kTruncate  Open only: the stream delivers at most truncate_after bytes,
//              then returns `status` (truncate_eof: ends early instead, the way
//              a silently cut download looks).
// Several rules may match one call: latency rules all apply; the first other
// rule that fires (in the order added) decides.
//
// Counters: calls(op) counts every call made to this store per operation,
// whether or not a fault fired; faults() counts the faults injected.
// Thread safety: all methods may be called concurrently; rules and counters
// are guarded by one mutex never held across inner calls or waits.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <stop_token>
#include <string>
#include <vector>

#include "base/clock.h"
#include "storage/object_store.h"

namespace walship::storage {

enum class FaultOp { kAny, kPut, kOpen, kHead, kList, kDelete, kCopy };
enum class FaultAction { kFail, kAckLost, kHang, kLatency, kTruncate };

// The status a fault returns unless the rule says otherwise: what a backend
// reports for a dropped connection.
Status InjectedFailure(std::string_view what = "injected fault: connection reset");

struct FaultRule {
  FaultOp op = FaultOp::kAny;
  std::string key_prefix;
  FaultAction action = FaultAction::kFail;
  int64_t first = 1;
  int64_t times = -1;
  double probability = 1.0;
  Status status = InjectedFailure();
  int64_t latency_ms = 0;
  uint64_t truncate_after = 0;
  bool truncate_eof = false;

  // Shorthands; the fields stay adjustable afterwards.
  static FaultRule FailNth(FaultOp op, int64_t n, Status st = InjectedFailure());
  static FaultRule FailNext(FaultOp op, int64_t count, Status st = InjectedFailure());
  static FaultRule FailWithProbability(FaultOp op, double p, Status st = InjectedFailure());
  static FaultRule AckLostNth(
      FaultOp op, int64_t n,
      Status st = InjectedFailure("injected ack lost: connection reset after the request was sent"));
  static FaultRule HangNth(FaultOp op, int64_t n);
  static FaultRule Latency(FaultOp op, int64_t ms);
  static FaultRule TruncateReads(uint64_t after_bytes, int64_t times = -1,
                                 Status st = InjectedFailure("injected fault: connection reset mid-body"));
};

struct FaultOptions {
  uint64_t seed = 1;               // RNG for probability rules
  int64_t hang_limit_ms = 60'000;  // real time a kHang waits at most
  // Waits delay_ms unless `stop` is requested (kLatency). Empty = real wait.
  std::function<void(int64_t delay_ms, std::stop_token stop)> sleeper;
  std::stop_token stop;  // outside stop; Cancel() also stops
};

class FaultStore final : public ObjectStore {
 public:
  // `inner` is not owned and must outlive this store.
  FaultStore(ObjectStore* inner, FaultOptions opts = {});
  FaultStore(std::shared_ptr<ObjectStore> inner, FaultOptions opts = {});
  ~FaultStore() override;
  FaultStore(const FaultStore&) = delete;
  FaultStore& operator=(const FaultStore&) = delete;

  std::string Describe() const override { return "fault+" + inner_->Describe(); }
  Status Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) override;
  Result<std::unique_ptr<Source>> Open(const std::string& key, uint64_t offset = 0,
                                       std::optional<uint64_t> length = std::nullopt) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after = "") override;
  Status Delete(const std::vector<std::string>& keys) override;
  Status Copy(const std::string& src, const std::string& dst, const PutOptions& opts) override;

  // Returns the rule's id.
  int AddRule(FaultRule rule);
  void RemoveRule(int id);
  void ClearRules();
  // How often rule `id` fired.
  int64_t fired(int id) const;

  // Wakes every hang (they return kCancelled) and makes later hangs return at once.
  void Cancel();

  int64_t calls(FaultOp op = FaultOp::kAny) const;
  int64_t faults() const;

 private:
  struct Entry {
    int id;
    FaultRule rule;
    int64_t seen = 0;
    int64_t fired = 0;
  };
  struct Decision {
    int64_t latency_ms = 0;
    bool fire = false;
    FaultRule rule;  // the deciding rule, if fire
  };
  struct StopLink {
    FaultStore* store;
    void operator()() const { store->Cancel(); }
  };

  // Counts the call and decides what happens to it.
  Decision Decide(FaultOp op, const std::vector<const std::string*>& keys);
  // Applies latency; for kHang waits and returns its status. OK = go on.
  Status Before(const Decision& d, std::string_view what);

  std::shared_ptr<ObjectStore> owned_;
  ObjectStore* inner_;
  FaultOptions opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  std::stop_source stop_;
  std::optional<std::stop_callback<StopLink>> link_;
  std::vector<Entry> rules_;
  int next_id_ = 1;
  std::mt19937_64 rng_;
  int64_t calls_[7] = {0, 0, 0, 0, 0, 0, 0};
  int64_t faults_ = 0;
};

}  // namespace walship::storage
