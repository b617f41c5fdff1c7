#include "storage/retry/retrying_store.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <limits>

#include "base/log.h"

namespace walship::storage {
namespace {

constexpr std::string_view kMaySucceededNote = "an earlier attempt may have succeeded";

std::string AttemptsText(int n) { return std::to_string(n) + (n == 1 ? " attempt" : " attempts"); }

bool RealSleep(int64_t delay_ms, const std::stop_token& stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock<std::mutex> lock(mu);
  cv.wait_for(lock, stop, std::chrono::milliseconds(delay_ms), [] { return false; });
  return !stop.stop_requested();
}

// The retryable bit, except for codes that no retry can fix even if a
// backend set the bit by mistake.
bool IsRetryable(const Status& st) {
  switch (st.code()) {
    case Code::kNotFound:
    case Code::kAlreadyExists:
    case Code::kCorruption:
    case Code::kInvalidArgument:
    case Code::kCancelled:
      return false;
    default:
      return st.retryable();
  }
}

uint64_t SeedOrRandom(uint64_t seed) {
  if (seed != 0) return seed;
  std::random_device rd;
  return (uint64_t(rd()) << 32) ^ rd();
}

}  // namespace

// A stream that re-opens the object at the current offset after a retryable
// read error. Not thread-safe (one reader), like every Source.
class ResumableSource final : public Source {
 public:
  ResumableSource(RetryingStore* store, std::string key, uint64_t pos, std::optional<uint64_t> end,
                  std::unique_ptr<Source> cur)
      : store_(store), key_(std::move(key)), pos_(pos), end_(end), cur_(std::move(cur)) {}

  Result<size_t> Read(void* buf, size_t n) override {
    size_t got = 0;
    int attempts = 0;
    Status st = store_->RunStatus(
        [&]() -> Status {
          if (!cur_) {
            std::optional<uint64_t> left;
            if (end_) left = *end_ > pos_ ? *end_ - pos_ : 0;
            auto reopened = store_->inner_->Open(key_, pos_, left);
            if (!reopened.ok()) return reopened.status();
            cur_ = std::move(reopened).value();
          }
          auto r = cur_->Read(buf, n);
          if (!r.ok()) {
            cur_.reset();  // a broken stream is never read again
            return r.status();
          }
          got = *r;
          return Status::OK();
        },
        &attempts, /*put_no_overwrite=*/false);
    if (!st.ok()) return st;
    if (attempts > 1) store_->resumed_++;
    pos_ += got;
    return got;
  }

 private:
  RetryingStore* store_;
  std::string key_;
  uint64_t pos_;
  std::optional<uint64_t> end_;  // absolute end, if a length was asked for
  std::unique_ptr<Source> cur_;
};

RetryingStore::RetryingStore(ObjectStore* inner, RetryOptions opts)
    : inner_(inner),
      opts_(std::move(opts)),
      clock_(opts_.clock != nullptr ? opts_.clock : SystemClock::Default()),
      rng_(SeedOrRandom(opts_.seed)) {
  if (opts_.max_attempts < 1) opts_.max_attempts = 1;
  if (opts_.base_delay_ms < 0) opts_.base_delay_ms = 0;
  if (opts_.max_delay_ms < 0) opts_.max_delay_ms = 0;
  if (!opts_.sleeper) opts_.sleeper = RealSleep;
  if (opts_.stop.stop_possible()) link_.emplace(opts_.stop, StopLink{&stop_});
}

RetryingStore::RetryingStore(std::shared_ptr<ObjectStore> inner, RetryOptions opts)
    : RetryingStore(inner.get(), std::move(opts)) {
  owned_ = std::move(inner);
}

RetryingStore::~RetryingStore() = default;

int64_t RetryingStore::BackoffCeilingMs(int retry) const {
  int64_t ceiling = opts_.base_delay_ms;
  for (int i = 1; i < retry && ceiling < opts_.max_delay_ms; i++) ceiling *= 2;
  return std::min(ceiling, opts_.max_delay_ms);
}

int64_t RetryingStore::NextDelayMs(int retry) {
  const uint64_t ceiling = uint64_t(BackoffCeilingMs(retry));
  std::lock_guard<std::mutex> lock(rng_mu_);
  // Modulo bias is irrelevant at these magnitudes; the formula is the same on
  // every standard library, unlike std::uniform_int_distribution.
  return int64_t(rng_() % (ceiling + 1));
}

bool RetryingStore::EarlierAttemptMayHaveSucceeded(const Status& s) {
  return s.code() == Code::kAlreadyExists && s.message().find(kMaySucceededNote) != std::string::npos;
}

Status RetryingStore::Final(const Status& last, int attempts, bool put_no_overwrite) const {
  if (attempts <= 1 && !IsRetryable(last)) return last;
  std::string msg = last.message() + " (" + AttemptsText(attempts);
  if (put_no_overwrite && last.code() == Code::kAlreadyExists && attempts > 1) {
    msg += "; ";
    msg += kMaySucceededNote;
  }
  msg += ")";
  return Status(last.code(), std::move(msg), last.retryable());
}

bool RetryingStore::Backoff(int retry, int64_t start_ms, const Status& last, Status* why) {
  auto stopped = [&] {
    *why = Status(Code::kCancelled, last.message() + " (" + AttemptsText(retry) + "; cancelled during backoff)");
    return false;
  };
  if (stop_.stop_requested()) return stopped();
  const int64_t delay = NextDelayMs(retry);
  if (opts_.max_elapsed_ms > 0) {
    const int64_t spent = clock_->MonotonicMs() - start_ms;
    if (spent + delay > opts_.max_elapsed_ms) {
      *why = Status(last.code(),
                    last.message() + " (" + AttemptsText(retry) + "; retry budget of " +
                        std::to_string(opts_.max_elapsed_ms) + " ms spent)",
                    last.retryable());
      return false;
    }
  }
  retries_++;
  WLOG_DEBUG("{}: retry {} of {} in {} ms", last.message(), retry, opts_.max_attempts - 1, delay);
  if (!opts_.sleeper(delay, stop_.get_token()) || stop_.stop_requested()) return stopped();
  return true;
}

Status RetryingStore::RunStatus(const std::function<Status()>& attempt, int* attempts, bool put_no_overwrite) {
  const int64_t start = clock_->MonotonicMs();
  for (int n = 1;; n++) {
    Status st = attempt();
    *attempts = n;
    if (st.ok()) return st;
    if (!IsRetryable(st) || n >= opts_.max_attempts) return Final(st, n, put_no_overwrite);
    Status why;
    if (!Backoff(n, start, st, &why)) return why;
  }
}

Status RetryingStore::Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) {
  int attempts = 0;
  if (auto* rewindable = dynamic_cast<RewindableSource*>(body)) {
    bool first = true;
    return RunStatus(
        [&]() -> Status {
          if (!first) WALSHIP_RETURN_IF_ERROR_CTX(rewindable->Rewind(), "put " + key + ": rewind body");
          first = false;
          return inner_->Put(key, rewindable, size, opts);
        },
        &attempts, opts.no_overwrite);
  }
  if (size <= opts_.max_buffered_body) {
    std::string copy(size_t(size), '\0');
    WALSHIP_RETURN_IF_ERROR_CTX(body->ReadFull(copy.data(), copy.size()), "put " + key + ": read body");
    ViewSource view(copy);
    return RunStatus(
        [&]() -> Status {
          WALSHIP_RETURN_IF_ERROR(view.Rewind());
          return inner_->Put(key, &view, size, opts);
        },
        &attempts, opts.no_overwrite);
  }
  Status st = inner_->Put(key, body, size, opts);
  if (st.ok() || !IsRetryable(st)) return st;
  return Status(st.code(),
                st.message() + " (1 attempt; not retried: body of " + std::to_string(size) +
                    " bytes is not rewindable and exceeds the " + std::to_string(opts_.max_buffered_body) +
                    "-byte retry buffer)",
                st.retryable());
}

Status RetryingStore::PutFrom(const std::string& key, const BodyFactory& body, uint64_t size, const PutOptions& opts) {
  int attempts = 0;
  return RunStatus(
      [&]() -> Status {
        auto src = body();
        if (!src.ok()) return src.status().WithContext("put " + key + ": open body");
        return inner_->Put(key, src->get(), size, opts);
      },
      &attempts, opts.no_overwrite);
}

Result<std::unique_ptr<Source>> RetryingStore::Open(const std::string& key, uint64_t offset,
                                                    std::optional<uint64_t> length) {
  std::unique_ptr<Source> src;
  int attempts = 0;
  Status st = RunStatus(
      [&]() -> Status {
        auto r = inner_->Open(key, offset, length);
        if (!r.ok()) return r.status();
        src = std::move(r).value();
        return Status::OK();
      },
      &attempts, false);
  if (!st.ok()) return st;
  std::optional<uint64_t> end;
  if (length) {
    end = *length > std::numeric_limits<uint64_t>::max() - offset ? std::numeric_limits<uint64_t>::max()
                                                                  : offset + *length;
  }
  return std::unique_ptr<Source>(std::make_unique<ResumableSource>(this, key, offset, end, std::move(src)));
}

Result<ObjectInfo> RetryingStore::Head(const std::string& key) {
  std::optional<ObjectInfo> info;
  int attempts = 0;
  Status st = RunStatus(
      [&]() -> Status {
        auto r = inner_->Head(key);
        if (!r.ok()) return r.status();
        info = std::move(r).value();
        return Status::OK();
      },
      &attempts, false);
  if (!st.ok()) return st;
  return std::move(*info);
}

Result<std::vector<ObjectInfo>> RetryingStore::List(const std::string& prefix, const std::string& start_after) {
  std::vector<ObjectInfo> out;
  int attempts = 0;
  Status st = RunStatus(
      [&]() -> Status {
        auto r = inner_->List(prefix, start_after);
        if (!r.ok()) return r.status();
        out = std::move(r).value();
        return Status::OK();
      },
      &attempts, false);
  if (!st.ok()) return st;
  return out;
}

Status RetryingStore::Delete(const std::vector<std::string>& keys) {
  int attempts = 0;
  return RunStatus([&] { return inner_->Delete(keys); }, &attempts, false);
}

Status RetryingStore::Copy(const std::string& src, const std::string& dst, const PutOptions& opts) {
  int attempts = 0;
  return RunStatus([&] { return inner_->Copy(src, dst, opts); }, &attempts, opts.no_overwrite);
}

}  // namespace walship::storage
