#include "storage/fault/fault_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "storage/mem_store.h"

namespace walship::storage {
namespace {

FaultOptions NoSleep(std::vector<int64_t>* waits, uint64_t seed = 1) {
  FaultOptions o;
  o.seed = seed;
  o.sleeper = [waits](int64_t ms, std::stop_token) { waits->push_back(ms); };
  return o;
}

TEST(FaultStore, PassesCallsThroughWithoutRules) {
  MemStore mem;
  FaultStore fault(&mem);
  ASSERT_TRUE(fault.PutBytes("a", "1").ok());
  EXPECT_EQ(*fault.GetBytes("a"), "1");
  EXPECT_EQ(fault.Head("a")->size, 1u);
  EXPECT_EQ(fault.List("")->size(), 1u);
  EXPECT_TRUE(fault.Delete({"a"}).ok());
  EXPECT_EQ(fault.Describe(), "fault+mem://");
  EXPECT_EQ(fault.faults(), 0);
}

TEST(FaultStore, CountsCallsPerOperation) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.PutBytes("a", "1").IgnoreError();
  fault.PutBytes("b", "2").IgnoreError();
  fault.GetBytes("a").status().IgnoreError();
  fault.Head("a").status().IgnoreError();
  fault.List("").status().IgnoreError();
  fault.Delete({"a", "b"}).IgnoreError();
  EXPECT_EQ(fault.calls(FaultOp::kPut), 2);
  EXPECT_EQ(fault.calls(FaultOp::kOpen), 1);
  EXPECT_EQ(fault.calls(FaultOp::kHead), 1);
  EXPECT_EQ(fault.calls(FaultOp::kList), 1);
  EXPECT_EQ(fault.calls(FaultOp::kDelete), 1);
  EXPECT_EQ(fault.calls(), 6);
}

TEST(FaultStore, FailsTheNthCallOnlyWithTheGivenStatus) {
  MemStore mem;
  FaultStore fault(&mem);
  const int id = fault.AddRule(FaultRule::FailNth(FaultOp::kPut, 3, Unavailable("503 SlowDown")));
  for (int i = 1; i <= 5; i++) {
    Status st = fault.PutBytes("k" + std::to_string(i), "v");
    if (i == 3) {
      EXPECT_EQ(st.code(), Code::kUnavailable);
      EXPECT_TRUE(st.retryable());
      EXPECT_EQ(st.message(), "fault put k3: 503 SlowDown");
    } else {
      EXPECT_TRUE(st.ok()) << i;
    }
  }
  EXPECT_EQ(mem.object_count(), 4u);
  EXPECT_EQ(mem.puts.load(), 4);  // the failed call never reached the store
  EXPECT_EQ(fault.fired(id), 1);
  EXPECT_EQ(fault.faults(), 1);
}

TEST(FaultStore, RuleCountsOnlyMatchingOperationsAndKeys) {
  MemStore mem;
  FaultStore fault(&mem);
  FaultRule r = FaultRule::FailNth(FaultOp::kAny, 2);
  r.key_prefix = "ltx/";
  fault.AddRule(r);
  EXPECT_TRUE(fault.PutBytes("ltx/1", "v").ok());
  EXPECT_TRUE(fault.PutBytes("other", "v").ok());
  EXPECT_TRUE(fault.Head("other").ok());
  EXPECT_FALSE(fault.Head("ltx/1").ok());  // second call on ltx/
  EXPECT_TRUE(fault.Head("ltx/1").ok());
}

TEST(FaultStore, DeleteMatchesAnyKeyOfTheBatch) {
  MemStore mem;
  FaultStore fault(&mem);
  FaultRule r = FaultRule::FailNth(FaultOp::kDelete, 1);
  r.key_prefix = "x/";
  fault.AddRule(r);
  EXPECT_TRUE(fault.Delete({"a", "b"}).ok());
  EXPECT_FALSE(fault.Delete({"a", "x/1"}).ok());
}

TEST(FaultStore, FailNextFailsConsecutiveCalls) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::FailNext(FaultOp::kHead, 3));
  int failed = 0;
  for (int i = 0; i < 10; i++) failed += fault.Head("k").status().code() == Code::kUnavailable;
  EXPECT_EQ(failed, 3);
}

TEST(FaultStore, ProbabilityIsDeterministicForASeed) {
  auto pattern = [](uint64_t seed) {
    MemStore mem;
    std::vector<int64_t> waits;
    FaultStore fault(&mem, NoSleep(&waits, seed));
    fault.AddRule(FaultRule::FailWithProbability(FaultOp::kList, 0.25));
    std::string p;
    for (int i = 0; i < 2000; i++) p += fault.List("").ok() ? '.' : 'x';
    return p;
  };
  const std::string a = pattern(99);
  EXPECT_EQ(a, pattern(99));
  EXPECT_NE(a, pattern(100));
  const auto failures = std::count(a.begin(), a.end(), 'x');
  EXPECT_GT(failures, 400);
  EXPECT_LT(failures, 600);
}

TEST(FaultStore, AckLostPerformsTheWriteThenReportsARetryableFailure) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::AckLostNth(FaultOp::kPut, 1));
  Status st = fault.PutBytes("k", "value");
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_TRUE(st.retryable());
  EXPECT_NE(st.message().find("ack lost"), std::string::npos);
  EXPECT_EQ(*mem.GetBytes("k"), "value");
  // The retry meets the applied write.
  EXPECT_EQ(fault.PutBytes("k", "value").code(), Code::kAlreadyExists);
}

TEST(FaultStore, AckLostDeleteDeletes) {
  MemStore mem;
  ASSERT_TRUE(mem.PutBytes("k", "v").ok());
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::AckLostNth(FaultOp::kDelete, 1));
  EXPECT_FALSE(fault.Delete({"k"}).ok());
  EXPECT_EQ(mem.object_count(), 0u);
}

TEST(FaultStore, AckLostKeepsARealInnerError) {
  MemStore mem;
  ASSERT_TRUE(mem.PutBytes("k", "v").ok());
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::AckLostNth(FaultOp::kPut, 1));
  EXPECT_EQ(fault.PutBytes("k", "w").code(), Code::kAlreadyExists);
}

TEST(FaultStore, LatencyGoesThroughTheSleeperAndAddsUp) {
  MemStore mem;
  std::vector<int64_t> waits;
  FaultStore fault(&mem, NoSleep(&waits));
  fault.AddRule(FaultRule::Latency(FaultOp::kAny, 250));
  fault.AddRule(FaultRule::Latency(FaultOp::kPut, 50));
  EXPECT_TRUE(fault.PutBytes("k", "v").ok());
  EXPECT_TRUE(fault.Head("k").ok());
  EXPECT_EQ(waits, (std::vector<int64_t>{300, 250}));
  EXPECT_EQ(fault.faults(), 0);  // latency is not a failure
}

TEST(FaultStore, LatencyAndAFailureCombine) {
  MemStore mem;
  std::vector<int64_t> waits;
  FaultStore fault(&mem, NoSleep(&waits));
  fault.AddRule(FaultRule::Latency(FaultOp::kAny, 10));
  fault.AddRule(FaultRule::FailNth(FaultOp::kAny, 1));
  EXPECT_FALSE(fault.Head("k").ok());
  EXPECT_EQ(waits.size(), 1u);
}

TEST(FaultStore, HangBlocksUntilCancelled) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::HangNth(FaultOp::kPut, 1));
  const auto t0 = std::chrono::steady_clock::now();
  std::jthread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fault.Cancel();
  });
  Status st = fault.PutBytes("k", "v");
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(st.code(), Code::kCancelled);
  EXPECT_GE(elapsed, std::chrono::milliseconds(40));
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  EXPECT_EQ(mem.object_count(), 0u);
}

TEST(FaultStore, HangEndsWhenTheOutsideStopIsRequested) {
  MemStore mem;
  std::stop_source shutdown;
  FaultOptions o;
  o.stop = shutdown.get_token();
  FaultStore fault(&mem, o);
  fault.AddRule(FaultRule::HangNth(FaultOp::kOpen, 1));
  std::jthread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    shutdown.request_stop();
  });
  EXPECT_EQ(fault.Open("k").status().code(), Code::kCancelled);
}

TEST(FaultStore, HangTimesOutAsARetryableFailureAfterTheLimit) {
  MemStore mem;
  FaultOptions o;
  o.hang_limit_ms = 20;
  FaultStore fault(&mem, o);
  fault.AddRule(FaultRule::HangNth(FaultOp::kHead, 1));
  Status st = fault.Head("k").status();
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_TRUE(st.retryable());
  EXPECT_NE(st.message().find("timed out"), std::string::npos);
}

std::string ReadAll(Source* src, Status* err) {
  std::string out;
  char buf[100];
  for (int i = 0; i < 100'000; i++) {
    auto n = src->Read(buf, sizeof(buf));
    if (!n.ok()) {
      *err = n.status();
      return out;
    }
    if (*n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

TEST(FaultStore, TruncatedReadFailsRetryablyAfterKBytes) {
  MemStore mem;
  const std::string body(1000, 'z');
  ASSERT_TRUE(mem.PutBytes("k", body).ok());
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::TruncateReads(257, 1));
  auto src = fault.Open("k");
  ASSERT_TRUE(src.ok());
  Status err;
  EXPECT_EQ(ReadAll(src->get(), &err), body.substr(0, 257));
  EXPECT_EQ(err.code(), Code::kUnavailable);
  EXPECT_TRUE(err.retryable());
  EXPECT_NE(err.message().find("fault get k"), std::string::npos);
  // times = 1: the next open is whole.
  EXPECT_EQ(*fault.GetBytes("k"), body);
}

TEST(FaultStore, TruncatedReadCanEndSilently) {
  MemStore mem;
  ASSERT_TRUE(mem.PutBytes("k", std::string(1000, 'z')).ok());
  FaultStore fault(&mem);
  FaultRule r = FaultRule::TruncateReads(10);
  r.truncate_eof = true;
  fault.AddRule(r);
  EXPECT_EQ(*fault.GetBytes("k"), std::string(10, 'z'));
}

TEST(FaultStore, TruncationPastTheEndIsNoFailure) {
  MemStore mem;
  ASSERT_TRUE(mem.PutBytes("k", "short").ok());
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::TruncateReads(5));
  EXPECT_EQ(*fault.GetBytes("k"), "short");
}

TEST(FaultStore, RemovedAndClearedRulesStopFiring) {
  MemStore mem;
  FaultStore fault(&mem);
  const int id = fault.AddRule(FaultRule::FailWithProbability(FaultOp::kHead, 1.0));
  EXPECT_FALSE(fault.Head("k").status().code() == Code::kNotFound);
  fault.RemoveRule(id);
  EXPECT_EQ(fault.Head("k").status().code(), Code::kNotFound);
  fault.AddRule(FaultRule::FailWithProbability(FaultOp::kAny, 1.0));
  fault.ClearRules();
  EXPECT_EQ(fault.Head("k").status().code(), Code::kNotFound);
}

TEST(FaultStore, ConcurrentCallsAreCountedExactly) {
  MemStore mem;
  FaultStore fault(&mem);
  fault.AddRule(FaultRule::FailWithProbability(FaultOp::kPut, 0.5));
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 4; t++) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 200; i++) fault.PutBytes(std::to_string(t) + "/" + std::to_string(i), "v").IgnoreError();
      });
    }
  }
  EXPECT_EQ(fault.calls(FaultOp::kPut), 800);
  EXPECT_EQ(int64_t(mem.object_count()) + fault.faults(), 800);
}

}  // namespace
}  // namespace walship::storage
