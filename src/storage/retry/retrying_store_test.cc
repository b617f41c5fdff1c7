#include "storage/retry/retrying_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "base/file.h"
#include "storage/fault/fault_store.h"
#include "storage/mem_store.h"

namespace walship::storage {
namespace {

// Records every backoff wait and advances a fake clock instead of sleeping.
struct FakeSleeper {
  FakeClock clock;
  std::vector<int64_t> waits;

  RetryOptions Options(uint64_t seed = 42) {
    RetryOptions o;
    o.seed = seed;
    o.clock = &clock;
    o.sleeper = [this](int64_t ms, std::stop_token stop) {
      waits.push_back(ms);
      clock.Advance(ms);
      return !stop.stop_requested();
    };
    return o;
  }
};

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng());
  return s;
}

// Reads `fraction` of the body of the first `failures` Puts, then fails them
// retryably: a retry that does not restart the body would store garbage.
class HalfReadThenFailStore final : public ObjectStore {
 public:
  HalfReadThenFailStore(ObjectStore* inner, int failures) : inner_(inner), failures_(failures) {}
  std::string Describe() const override { return "half"; }
  Status Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) override {
    if (failures_-- > 0) {
      std::string half(size / 2, '\0');
      WALSHIP_RETURN_IF_ERROR(body->ReadFull(half.data(), half.size()));
      return Unavailable("half put " + key + ": connection reset");
    }
    return inner_->Put(key, body, size, opts);
  }
  Result<std::unique_ptr<Source>> Open(const std::string& key, uint64_t offset,
                                       std::optional<uint64_t> length) override {
    return inner_->Open(key, offset, length);
  }
  Result<ObjectInfo> Head(const std::string& key) override { return inner_->Head(key); }
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after) override {
    return inner_->List(prefix, start_after);
  }
  Status Delete(const std::vector<std::string>& keys) override { return inner_->Delete(keys); }

 private:
  ObjectStore* inner_;
  int failures_;
};

class TempFile {
 public:
  explicit TempFile(const std::string& data) {
    char tmpl[] = "/tmp/walship_retry_test_XXXXXX";
    const int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    path_ = tmpl;
    EXPECT_EQ(write(fd, data.data(), data.size()), ssize_t(data.size()));
    close(fd);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const char kKey[] = "db/0000/0000000000000001-0000000000000001.ltx";

TEST(RetryingStore, DefaultsAreTenAttemptsHundredMsBaseThirtySecondCap) {
  RetryOptions o;
  EXPECT_EQ(o.max_attempts, 10);
  EXPECT_EQ(o.base_delay_ms, 100);
  EXPECT_EQ(o.max_delay_ms, 30'000);
  MemStore mem;
  RetryingStore store(&mem, o);
  EXPECT_EQ(store.BackoffCeilingMs(1), 100);
  EXPECT_EQ(store.BackoffCeilingMs(2), 200);
  EXPECT_EQ(store.BackoffCeilingMs(9), 25'600);
  EXPECT_EQ(store.BackoffCeilingMs(10), 30'000);
  EXPECT_EQ(store.BackoffCeilingMs(60), 30'000);
}

TEST(RetryingStore, RetriesTransientFailuresThenSucceeds) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::FailNext(FaultOp::kPut, 3));
  FakeSleeper sleeper;
  RetryingStore store(&fault, sleeper.Options());
  ASSERT_TRUE(store.PutBytes(kKey, "hello").ok());
  EXPECT_EQ(fault.calls(FaultOp::kPut), 4);
  EXPECT_EQ(sleeper.waits.size(), 3u);
  EXPECT_EQ(store.retries(), 3u);
  EXPECT_EQ(*mem.GetBytes(kKey), "hello");
}

TEST(RetryingStore, GivesUpAfterMaxAttemptsNamingTheAttemptCount) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::FailWithProbability(FaultOp::kPut, 1.0,
                                               Unavailable(std::string("s3 PUT ") + kKey + ": 503 SlowDown")));
  FakeSleeper sleeper;
  RetryingStore store(&fault, sleeper.Options());
  Status st = store.PutBytes(kKey, "x");
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_TRUE(st.retryable());
  EXPECT_EQ(st.message(), std::string("fault put ") + kKey + ": s3 PUT " + kKey + ": 503 SlowDown (10 attempts)");
  EXPECT_EQ(fault.calls(FaultOp::kPut), 10);
  EXPECT_EQ(sleeper.waits.size(), 9u);
  EXPECT_EQ(mem.object_count(), 0u);
}

TEST(RetryingStore, HonoursConfiguredMaxAttempts) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::FailWithProbability(FaultOp::kHead, 1.0));
  FakeSleeper sleeper;
  RetryOptions o = sleeper.Options();
  o.max_attempts = 3;
  RetryingStore store(&fault, o);
  auto r = store.Head(kKey);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("(3 attempts)"), std::string::npos) << r.status().message();
  EXPECT_EQ(fault.calls(FaultOp::kHead), 3);
}

TEST(RetryingStore, NeverRetriesNonRetryableErrors) {
  const Status cases[] = {
      NotFound("s3 GET k: 404 NoSuchKey"),
      AlreadyExists("s3 PUT k: 412 PreconditionFailed"),
      Corruption("s3 GET k: checksum mismatch"),
      Status(Code::kCorruption, "corruption marked retryable by mistake", true),
      InvalidArgument("s3 PUT k: 400 InvalidRequest"),
      Unavailable("s3 PUT k: 403 AccessDenied", /*retryable=*/false),
      IOError("read body: EIO"),
  };
  for (const Status& injected : cases) {
    MemStore mem;
    FaultStore fault(&mem);
    fault.AddRule(FaultRule::FailNext(FaultOp::kAny, 1, injected));
    FakeSleeper sleeper;
    RetryingStore store(&fault, sleeper.Options());
    Status st = store.PutBytes(kKey, "x");
    EXPECT_EQ(st.code(), injected.code()) << injected.message();
    EXPECT_EQ(st.message(), "fault put " + std::string(kKey) + ": " + injected.message());
    EXPECT_EQ(fault.calls(FaultOp::kPut), 1) << injected.message();
    EXPECT_TRUE(sleeper.waits.empty()) << injected.message();
  }
}

TEST(RetryingStore, MissingObjectIsNotFoundAfterOneCall) {
  MemStore mem;
  FakeSleeper sleeper;
  RetryingStore store(&mem, sleeper.Options());
  EXPECT_EQ(store.Head("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(store.Open("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(mem.heads.load(), 1);
  EXPECT_EQ(mem.gets.load(), 1);
  EXPECT_TRUE(sleeper.waits.empty());
}

TEST(RetryingStore, JitterIsBoundedByTheExponentialCeiling) {
  MemStore mem;
  RetryOptions o;
  o.seed = 7;
  RetryingStore store(&mem, o);
  for (int retry = 1; retry <= 12; retry++) {
    const int64_t ceiling = store.BackoffCeilingMs(retry);
    int64_t max_seen = 0;
    for (int i = 0; i < 400; i++) {
      const int64_t d = store.NextDelayMs(retry);
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling);
      max_seen = std::max(max_seen, d);
    }
    EXPECT_GE(max_seen, ceiling / 2) << "full jitter spans [0, ceiling]; retry " << retry;
  }
}

TEST(RetryingStore, JitterIsDeterministicForASeed) {
  auto waits_for_seed = [](uint64_t seed) {
    MemStore mem;
    FaultStore fault(&mem);
    fault.AddRule(FaultRule::FailWithProbability(FaultOp::kPut, 1.0));
    FakeSleeper sleeper;
    RetryingStore store(&fault, sleeper.Options(seed));
    store.PutBytes("k", "x").IgnoreError();
    return sleeper.waits;
  };
  const auto a = waits_for_seed(1234);
  EXPECT_EQ(a.size(), 9u);
  EXPECT_EQ(a, waits_for_seed(1234));
  EXPECT_NE(a, waits_for_seed(1235));
}

TEST(RetryingStore, TimeBudgetOnTheInjectedClockEndsRetries) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::FailWithProbability(FaultOp::kList, 1.0));
  FakeSleeper sleeper;
  RetryOptions o = sleeper.Options();
  o.max_attempts = 1000;
  o.base_delay_ms = 1000;
  o.max_delay_ms = 1000;
  o.max_elapsed_ms = 10'000;
  RetryingStore store(&fault, o);
  auto r = store.List("");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("retry budget of 10000 ms spent"), std::string::npos);
  int64_t total = 0;
  for (int64_t w : sleeper.waits) total += w;
  EXPECT_LE(total, 10'000);
  EXPECT_LT(fault.calls(FaultOp::kList), 1000);
}

TEST(RetryingStore, CancelStopsARealBackoffWaitPromptly) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::FailWithProbability(FaultOp::kPut, 1.0));
  RetryOptions o;  // the real sleeper
  o.base_delay_ms = 60'000;
  o.max_delay_ms = 60'000;
  o.seed = 3;
  RetryingStore store(&fault, o);
  const auto t0 = std::chrono::steady_clock::now();
  std::jthread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    store.Cancel();
  });
  Status st = store.PutBytes(kKey, "x");
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(st.code(), Code::kCancelled);
  EXPECT_NE(st.message().find("cancelled during backoff"), std::string::npos) << st.message();
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_TRUE(store.cancelled());
}

TEST(RetryingStore, OutsideStopTokenStopsBackoff) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::FailWithProbability(FaultOp::kHead, 1.0));
  std::stop_source shutdown;
  RetryOptions o;
  o.base_delay_ms = 60'000;
  o.max_delay_ms = 60'000;
  o.stop = shutdown.get_token();
  RetryingStore store(&fault, o);
  const auto t0 = std::chrono::steady_clock::now();
  std::jthread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    shutdown.request_stop();
  });
  EXPECT_EQ(store.Head("k").status().code(), Code::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(RetryingStore, ShutdownTokenEndsAHangingCallAndItsRetries) {
  MemStore mem;
  std::stop_source shutdown;
  FaultOptions fo;
  fo.stop = shutdown.get_token();
  FaultStore fault(&mem, fo);
  fault.AddRule(FaultRule::HangNth(FaultOp::kPut, 1));
  RetryOptions o;
  o.stop = shutdown.get_token();
  RetryingStore store(&fault, o);
  const auto t0 = std::chrono::steady_clock::now();
  std::jthread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    shutdown.request_stop();
  });
  Status st = store.PutBytes("k", "v");
  EXPECT_EQ(st.code(), Code::kCancelled) << st.message();
  EXPECT_EQ(fault.calls(FaultOp::kPut), 1);  // kCancelled is never retried
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(RetryingStore, CancelledStoreMakesOneAttemptAndNoWait) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::FailWithProbability(FaultOp::kPut, 1.0));
  FakeSleeper sleeper;
  RetryingStore store(&fault, sleeper.Options());
  store.Cancel();
  EXPECT_EQ(store.PutBytes("k", "x").code(), Code::kCancelled);
  EXPECT_EQ(fault.calls(FaultOp::kPut), 1);
  EXPECT_TRUE(sleeper.waits.empty());
  // Calls that succeed are unaffected by a stop.
  fault.ClearRules();
  EXPECT_TRUE(store.PutBytes("k", "x").ok());
}

TEST(RetryingStore, AckLostPutSurfacesAlreadyExistsWithTheObjectIntact) {
  const std::string body = RandomBytes(10'000, 5);
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::AckLostNth(FaultOp::kPut, 1));
  FakeSleeper sleeper;
  RetryingStore store(&fault, sleeper.Options());
  Status st = store.PutBytes(kKey, body);
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
  EXPECT_FALSE(st.retryable());
  EXPECT_TRUE(RetryingStore::EarlierAttemptMayHaveSucceeded(st)) << st.message();
  EXPECT_NE(st.message().find("(2 attempts; an earlier attempt may have succeeded)"), std::string::npos)
      << st.message();
  EXPECT_EQ(*mem.GetBytes(kKey), body);
  EXPECT_EQ(mem.object_count(), 1u);
}

TEST(RetryingStore, PlainAlreadyExistsDoesNotClaimAnEarlierAttempt) {
  MemStore mem;
  ASSERT_TRUE(mem.PutBytes("k", "old").ok());
  FakeSleeper sleeper;
  RetryingStore store(&mem, sleeper.Options());
  Status st = store.PutBytes("k", "new");
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
  EXPECT_FALSE(RetryingStore::EarlierAttemptMayHaveSucceeded(st));
  EXPECT_EQ(*mem.GetBytes("k"), "old");
}

TEST(RetryingStore, AckLostOverwritingPutSucceedsOnRetry) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::AckLostNth(FaultOp::kPut, 1));
  FakeSleeper sleeper;
  RetryingStore store(&fault, sleeper.Options());
  PutOptions po;
  po.no_overwrite = false;
  EXPECT_TRUE(store.PutBytes("k", "v", po).ok());
  EXPECT_EQ(*mem.GetBytes("k"), "v");
}

TEST(RetryingStore, RetriedPutRereadsABufferedBodyFromTheStart) {
  const std::string body = RandomBytes(100'001, 1);
  MemStore mem;
  HalfReadThenFailStore half(&mem, 2);
  FakeSleeper sleeper;
  RetryingStore store(&half, sleeper.Options());
  StringSource src(body);  // not rewindable: buffered
  ASSERT_TRUE(store.Put("k", &src, body.size(), {}).ok());
  EXPECT_EQ(*mem.GetBytes("k"), body);
}

TEST(RetryingStore, RetriedPutRewindsARewindableFileBody) {
  const std::string body = RandomBytes(300'000, 2);
  TempFile file("prefix" + body);
  MemStore mem;
  HalfReadThenFailStore half(&mem, 3);
  FakeSleeper sleeper;
  RetryOptions o = sleeper.Options();
  o.max_buffered_body = 0;  // prove no copy is needed
  RetryingStore store(&half, o);
  auto src = FileSource::Open(file.path(), 6, body.size());
  ASSERT_TRUE(src.ok());
  ASSERT_TRUE(store.Put("k", src->get(), body.size(), {}).ok());
  EXPECT_EQ(*mem.GetBytes("k"), body);
}

TEST(RetryingStore, PutFromOpensAFreshBodyPerAttempt) {
  const std::string body = RandomBytes(50'000, 3);
  MemStore mem;
  HalfReadThenFailStore half(&mem, 2);
  FakeSleeper sleeper;
  RetryOptions o = sleeper.Options();
  o.max_buffered_body = 0;
  RetryingStore store(&half, o);
  int opened = 0;
  Status st = store.PutFrom("k",
                            [&]() -> Result<std::unique_ptr<Source>> {
                              opened++;
                              return std::unique_ptr<Source>(std::make_unique<StringSource>(body));
                            },
                            body.size(), {});
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(opened, 3);
  EXPECT_EQ(*mem.GetBytes("k"), body);
}

TEST(RetryingStore, LargeNonRewindableBodyIsTriedOnceAndSaysWhy) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::FailNext(FaultOp::kPut, 1));
  FakeSleeper sleeper;
  RetryOptions o = sleeper.Options();
  o.max_buffered_body = 4;
  RetryingStore store(&fault, o);
  StringSource src("0123456789");
  Status st = store.Put("k", &src, 10, {});
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_NE(st.message().find("not retried: body of 10 bytes is not rewindable"), std::string::npos) << st.message();
  EXPECT_EQ(fault.calls(FaultOp::kPut), 1);
}

TEST(RetryingStore, UnreadableBodyFailsWithoutCallingTheStore) {
  MemStore mem;
  FakeSleeper sleeper;
  RetryingStore store(&mem, sleeper.Options());
  StringSource src("short");
  Status st = store.Put("k", &src, 10, {});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("put k: read body"), std::string::npos) << st.message();
  EXPECT_EQ(mem.puts.load(), 0);
}

TEST(RetryingStore, OpenRetriesOpening) {
  MemStore mem;
  ASSERT_TRUE(mem.PutBytes("k", "value").ok());
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::FailNext(FaultOp::kOpen, 2));
  FakeSleeper sleeper;
  RetryingStore store(&fault, sleeper.Options());
  EXPECT_EQ(*store.GetBytes("k"), "value");
  EXPECT_EQ(fault.calls(FaultOp::kOpen), 3);
}

TEST(RetryingStore, ResumableOpenSurvivesMidStreamFailuresWithExactBytes) {
  const std::string body = RandomBytes(1 << 20, 9);
  MemStore mem;
  ASSERT_TRUE(mem.PutBytes("big", body).ok());
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::TruncateReads(100'000, /*times=*/3));
  FakeSleeper sleeper;
  RetryingStore store(&fault, sleeper.Options());
  auto got = store.GetBytes("big");
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(*got, body);
  EXPECT_EQ(store.resumed_reads(), 3u);
  EXPECT_EQ(fault.calls(FaultOp::kOpen), 4);
}

TEST(RetryingStore, ResumableRangedOpenReturnsExactlyTheRange) {
  const std::string body = RandomBytes(200'000, 10);
  MemStore mem;
  ASSERT_TRUE(mem.PutBytes("big", body).ok());
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::TruncateReads(7'000, /*times=*/-1));
  FakeSleeper sleeper;
  RetryingStore store(&fault, sleeper.Options());
  auto src = store.Open("big", 1'000, 50'000);
  ASSERT_TRUE(src.ok());
  std::string out;
  char buf[333];
  for (int i = 0; i < 100'000; i++) {  // bounded
    auto n = (*src)->Read(buf, sizeof(buf));
    ASSERT_TRUE(n.ok()) << n.status().message();
    if (*n == 0) break;
    out.append(buf, *n);
  }
  EXPECT_EQ(out, body.substr(1'000, 50'000));
}

TEST(RetryingStore, ResumableOpenGivesUpWithoutProgress) {
  MemStore mem;
  ASSERT_TRUE(mem.PutBytes("k", RandomBytes(1000, 11)).ok());
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::TruncateReads(0));
  FakeSleeper sleeper;
  RetryOptions o = sleeper.Options();
  o.max_attempts = 4;
  RetryingStore store(&fault, o);
  auto got = store.GetBytes("k");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kUnavailable);
  EXPECT_NE(got.status().message().find("(4 attempts)"), std::string::npos) << got.status().message();
}

TEST(RetryingStore, ResumeOfADeletedObjectIsNotFound) {
  MemStore mem;
  ASSERT_TRUE(mem.PutBytes("k", RandomBytes(1000, 12)).ok());
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::TruncateReads(10));
  FakeSleeper sleeper;
  RetryingStore store(&fault, sleeper.Options());
  auto src = store.Open("k");
  ASSERT_TRUE(src.ok());
  char buf[100];
  ASSERT_EQ(*(*src)->Read(buf, sizeof(buf)), 10u);
  ASSERT_TRUE(mem.Delete({"k"}).ok());
  EXPECT_EQ((*src)->Read(buf, sizeof(buf)).status().code(), Code::kNotFound);
}

TEST(RetryingStore, HeadListDeleteAreRetried) {
  MemStore mem;
  ASSERT_TRUE(mem.PutBytes("a/1", "x").ok());
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::FailNext(FaultOp::kAny, 1));
  FakeSleeper sleeper;
  RetryingStore store(&fault, sleeper.Options());
  EXPECT_TRUE(store.Head("a/1").ok());
  fault.AddRule(FaultRule::FailNext(FaultOp::kList, 2));
  auto l = store.List("a/");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->size(), 1u);
  fault.AddRule(FaultRule::AckLostNth(FaultOp::kDelete, 1));
  EXPECT_TRUE(store.Delete({"a/1"}).ok());
  EXPECT_EQ(mem.object_count(), 0u);
  EXPECT_EQ(store.retries(), 4u);
}

TEST(RetryingStore, OwnsASharedInnerStore) {
  auto mem = std::make_shared<MemStore>();
  RetryingStore store{std::shared_ptr<ObjectStore>(mem)};
  EXPECT_EQ(store.Describe(), "mem://");
  EXPECT_TRUE(store.PutBytes("k", "v").ok());
  EXPECT_EQ(*store.GetBytes("k"), "v");
}

}  // namespace
}  // namespace walship::storage
