#include "storage/fault/fault_store.h"

#include <algorithm>
#include <chrono>

namespace walship::storage {
namespace {

const char* OpName(FaultOp op) {
  switch (op) {
    case FaultOp::kAny:
      return "any";
    case FaultOp::kPut:
      return "put";
    case FaultOp::kOpen:
      return "get";
    case FaultOp::kHead:
      return "head";
    case FaultOp::kList:
      return "list";
    case FaultOp::kDelete:
      return "delete";
    case FaultOp::kCopy:
      return "copy";
  }
  return "?";
}

void RealSleep(int64_t delay_ms, const std::stop_token& stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock<std::mutex> lock(mu);
  cv.wait_for(lock, stop, std::chrono::milliseconds(delay_ms), [] { return false; });
}

// Delivers at most `left` bytes of the inner stream, then fails (or ends).
class TruncatingSource final : public Source {
 public:
  TruncatingSource(std::unique_ptr<Source> inner, uint64_t left, Status st, bool eof)
      : inner_(std::move(inner)), left_(left), status_(std::move(st)), eof_(eof) {}
  Result<size_t> Read(void* buf, size_t n) override {
    if (n == 0) return size_t{0};
    if (left_ == 0) {
      if (eof_) return size_t{0};
      // Only a failure if the object really had more bytes.
      char probe;
      WALSHIP_ASSIGN_OR_RETURN(size_t more, inner_->Read(&probe, 1));
      if (more == 0) return size_t{0};
      return status_;
    }
    WALSHIP_ASSIGN_OR_RETURN(size_t got, inner_->Read(buf, size_t(std::min<uint64_t>(n, left_))));
    left_ -= got;
    return got;
  }

 private:
  std::unique_ptr<Source> inner_;
  uint64_t left_;
  Status status_;
  bool eof_;
};

}  // namespace

Status InjectedFailure(std::string_view what) { return Unavailable(std::string(what), /*retryable=*/true); }

FaultRule FaultRule::FailNth(FaultOp op, int64_t n, Status st) {
  FaultRule r;
  r.op = op;
  r.first = n;
  r.times = 1;
  r.status = std::move(st);
  return r;
}

FaultRule FaultRule::FailNext(FaultOp op, int64_t count, Status st) {
  FaultRule r = FailNth(op, 1, std::move(st));
  r.times = count;
  return r;
}

FaultRule FaultRule::FailWithProbability(FaultOp op, double p, Status st) {
  FaultRule r;
  r.op = op;
  r.probability = p;
  r.status = std::move(st);
  return r;
}

FaultRule FaultRule::AckLostNth(FaultOp op, int64_t n, Status st) {
  FaultRule r = FailNth(op, n, std::move(st));
  r.action = FaultAction::kAckLost;
  return r;
}

FaultRule FaultRule::HangNth(FaultOp op, int64_t n) {
  FaultRule r = FailNth(op, n);
  r.action = FaultAction::kHang;
  return r;
}

FaultRule FaultRule::Latency(FaultOp op, int64_t ms) {
  FaultRule r;
  r.op = op;
  r.action = FaultAction::kLatency;
  r.latency_ms = ms;
  return r;
}

FaultRule FaultRule::TruncateReads(uint64_t after_bytes, int64_t times, Status st) {
  FaultRule r;
  r.op = FaultOp::kOpen;
  r.action = FaultAction::kTruncate;
  r.truncate_after = after_bytes;
  r.times = times;
  r.status = std::move(st);
  return r;
}

FaultStore::FaultStore(ObjectStore* inner, FaultOptions opts)
    : inner_(inner), opts_(std::move(opts)), rng_(opts_.seed) {
  if (!opts_.sleeper) opts_.sleeper = RealSleep;
  if (opts_.stop.stop_possible()) link_.emplace(opts_.stop, StopLink{this});
}

FaultStore::FaultStore(std::shared_ptr<ObjectStore> inner, FaultOptions opts)
    : FaultStore(inner.get(), std::move(opts)) {
  owned_ = std::move(inner);
}

FaultStore::~FaultStore() { link_.reset(); }

int FaultStore::AddRule(FaultRule rule) {
  std::lock_guard<std::mutex> lock(mu_);
  const int id = next_id_++;
  rules_.push_back(Entry{id, std::move(rule)});
  return id;
}

void FaultStore::RemoveRule(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.erase(std::remove_if(rules_.begin(), rules_.end(), [id](const Entry& e) { return e.id == id; }), rules_.end());
}

void FaultStore::ClearRules() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
}

int64_t FaultStore::fired(int id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : rules_) {
    if (e.id == id) return e.fired;
  }
  return 0;
}

void FaultStore::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
  stop_.request_stop();
}

int64_t FaultStore::calls(FaultOp op) const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_[int(op)];
}

int64_t FaultStore::faults() const {
  std::lock_guard<std::mutex> lock(mu_);
  return faults_;
}

FaultStore::Decision FaultStore::Decide(FaultOp op, const std::vector<const std::string*>& keys) {
  Decision d;
  std::lock_guard<std::mutex> lock(mu_);
  calls_[int(FaultOp::kAny)]++;
  calls_[int(op)]++;
  for (Entry& e : rules_) {
    const FaultRule& r = e.rule;
    if (r.op != FaultOp::kAny && r.op != op) continue;
    if (r.action == FaultAction::kTruncate && op != FaultOp::kOpen) continue;
    if (!r.key_prefix.empty() &&
        std::none_of(keys.begin(), keys.end(), [&](const std::string* k) { return k->rfind(r.key_prefix, 0) == 0; })) {
      continue;
    }
    e.seen++;
    if (e.seen < r.first || (r.times >= 0 && e.fired >= r.times)) continue;
    if (r.action != FaultAction::kLatency && d.fire) continue;
    if (r.probability < 1.0 && double(rng_() >> 11) * 0x1.0p-53 >= r.probability) continue;
    e.fired++;
    if (r.action == FaultAction::kLatency) {
      d.latency_ms += r.latency_ms;
    } else {
      d.fire = true;
      d.rule = r;
      faults_++;
    }
  }
  return d;
}

Status FaultStore::Before(const Decision& d, std::string_view what) {
  if (d.latency_ms > 0) opts_.sleeper(d.latency_ms, stop_.get_token());
  if (!d.fire || d.rule.action != FaultAction::kHang) return Status::OK();
  std::unique_lock<std::mutex> lock(mu_);
  const bool woke = cv_.wait_for(lock, std::chrono::milliseconds(opts_.hang_limit_ms), [this] { return cancelled_; });
  if (woke) return Cancelled(std::string(what) + ": injected hang cancelled");
  return Unavailable(std::string(what) + ": injected hang: request timed out", true);
}

Status FaultStore::Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) {
  const Decision d = Decide(FaultOp::kPut, {&key});
  const std::string what = std::string("fault ") + OpName(FaultOp::kPut) + " " + key;
  WALSHIP_RETURN_IF_ERROR(Before(d, what));
  if (d.fire && d.rule.action == FaultAction::kFail) return d.rule.status.WithContext(what);
  Status st = inner_->Put(key, body, size, opts);
  if (d.fire && d.rule.action == FaultAction::kAckLost && st.ok()) return d.rule.status.WithContext(what);
  return st;
}

Result<std::unique_ptr<Source>> FaultStore::Open(const std::string& key, uint64_t offset,
                                                 std::optional<uint64_t> length) {
  const Decision d = Decide(FaultOp::kOpen, {&key});
  const std::string what = std::string("fault ") + OpName(FaultOp::kOpen) + " " + key;
  WALSHIP_RETURN_IF_ERROR(Before(d, what));
  if (d.fire && d.rule.action == FaultAction::kFail) return d.rule.status.WithContext(what);
  auto r = inner_->Open(key, offset, length);
  if (!r.ok() || !d.fire) return r;
  if (d.rule.action == FaultAction::kAckLost) return d.rule.status.WithContext(what);
  if (d.rule.action == FaultAction::kTruncate) {
    return std::unique_ptr<Source>(std::make_unique<TruncatingSource>(
        std::move(r).value(), d.rule.truncate_after, d.rule.status.WithContext(what), d.rule.truncate_eof));
  }
  return r;
}

Result<ObjectInfo> FaultStore::Head(const std::string& key) {
  const Decision d = Decide(FaultOp::kHead, {&key});
  const std::string what = std::string("fault ") + OpName(FaultOp::kHead) + " " + key;
  WALSHIP_RETURN_IF_ERROR(Before(d, what));
  if (d.fire && d.rule.action == FaultAction::kFail) return d.rule.status.WithContext(what);
  auto r = inner_->Head(key);
  if (r.ok() && d.fire && d.rule.action == FaultAction::kAckLost) return d.rule.status.WithContext(what);
  return r;
}

Result<std::vector<ObjectInfo>> FaultStore::List(const std::string& prefix, const std::string& start_after) {
  const Decision d = Decide(FaultOp::kList, {&prefix});
  const std::string what = std::string("fault ") + OpName(FaultOp::kList) + " " + prefix;
  WALSHIP_RETURN_IF_ERROR(Before(d, what));
  if (d.fire && d.rule.action == FaultAction::kFail) return d.rule.status.WithContext(what);
  auto r = inner_->List(prefix, start_after);
  if (r.ok() && d.fire && d.rule.action == FaultAction::kAckLost) return d.rule.status.WithContext(what);
  return r;
}

Status FaultStore::Delete(const std::vector<std::string>& keys) {
  std::vector<const std::string*> ptrs;
  ptrs.reserve(keys.size());
  for (const std::string& k : keys) ptrs.push_back(&k);
  const Decision d = Decide(FaultOp::kDelete, ptrs);
  const std::string what =
      std::string("fault ") + OpName(FaultOp::kDelete) + " " + std::to_string(keys.size()) + " keys";
  WALSHIP_RETURN_IF_ERROR(Before(d, what));
  if (d.fire && d.rule.action == FaultAction::kFail) return d.rule.status.WithContext(what);
  Status st = inner_->Delete(keys);
  if (st.ok() && d.fire && d.rule.action == FaultAction::kAckLost) return d.rule.status.WithContext(what);
  return st;
}

Status FaultStore::Copy(const std::string& src, const std::string& dst, const PutOptions& opts) {
  const Decision d = Decide(FaultOp::kCopy, {&dst});
  const std::string what = std::string("fault ") + OpName(FaultOp::kCopy) + " " + src + " to " + dst;
  WALSHIP_RETURN_IF_ERROR(Before(d, what));
  if (d.fire && d.rule.action == FaultAction::kFail) return d.rule.status.WithContext(what);
  Status st = inner_->Copy(src, dst, opts);
  if (d.fire && d.rule.action == FaultAction::kAckLost && st.ok()) return d.rule.status.WithContext(what);
  return st;
}

}  // namespace walship::storage
