// Fault sweeps: for every i, call i of a fixed workload fails (plainly,
// ack-lost, or as a burst) under RetryingStore(FaultStore(MemStore)), and the
// workload must still succeed and leave exactly the expected objects.

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "storage/fault/fault_store.h"
#include "storage/mem_store.h"
#include "storage/retry/retrying_store.h"

namespace walship::storage {
namespace {

std::string Bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = char(rng());
  return s;
}

const std::string kA = Bytes(5'000, 1), kB = Bytes(70'000, 2), kC = Bytes(20'000, 3), kD = Bytes(10, 4),
                  kE = Bytes(3'000, 5);

// What the uploader does with kAlreadyExists after an unknown outcome:
// compare the stored object with what it meant to write.
Status PutChecked(ObjectStore* s, const std::string& key, Source* body, const std::string& data, bool no_overwrite) {
  PutOptions po;
  po.no_overwrite = no_overwrite;
  Status st = s->Put(key, body, data.size(), po);
  if (RetryingStore::EarlierAttemptMayHaveSucceeded(st)) {
    auto stored = s->GetBytes(key);
    if (stored.ok() && *stored == data) return Status::OK();
  }
  return st;
}

#define SWEEP_CHECK(cond, what) \
  if (!(cond)) return Internal(std::string("workload step failed: ") + (what))

Status Workload(ObjectStore* s) {
  StringSource a(kA);  // not rewindable: RetryingStore buffers it
  WALSHIP_RETURN_IF_ERROR(PutChecked(s, "db/0000/01.ltx", &a, kA, true));
  StringSource b(kB);
  WALSHIP_RETURN_IF_ERROR(PutChecked(s, "db/0000/02.ltx", &b, kB, true));
  ViewSource c(kC);  // rewindable
  WALSHIP_RETURN_IF_ERROR(PutChecked(s, "db/0001/01.ltx", &c, kC, true));
  WALSHIP_ASSIGN_OR_RETURN(std::string got_a, s->GetBytes("db/0000/01.ltx"));
  SWEEP_CHECK(got_a == kA, "get a");
  WALSHIP_ASSIGN_OR_RETURN(auto level0, s->List("db/0000/"));
  SWEEP_CHECK(level0.size() == 2 && level0[0].key == "db/0000/01.ltx" && level0[1].key == "db/0000/02.ltx",
              "list level 0");
  WALSHIP_ASSIGN_OR_RETURN(ObjectInfo hb, s->Head("db/0000/02.ltx"));
  SWEEP_CHECK(hb.size == kB.size(), "head b");
  WALSHIP_RETURN_IF_ERROR(s->Delete({"db/0000/01.ltx", "db/0000/02.ltx"}));
  StringSource d(kD);
  WALSHIP_RETURN_IF_ERROR(PutChecked(s, "db/0002/01.ltx", &d, kD, false));
  WALSHIP_ASSIGN_OR_RETURN(auto rest, s->List("db/", "db/0000/~"));
  SWEEP_CHECK(rest.size() == 2 && rest[0].key == "db/0001/01.ltx" && rest[1].key == "db/0002/01.ltx", "list rest");
  WALSHIP_ASSIGN_OR_RETURN(std::string got_c, s->GetBytes("db/0001/01.ltx", 100, 10'000));
  SWEEP_CHECK(got_c == kC.substr(100, 10'000), "ranged get c");
  ViewSource e(kE);
  WALSHIP_RETURN_IF_ERROR(PutChecked(s, "db/0002/01.ltx", &e, kE, false));
  return Status::OK();
}

const std::map<std::string, std::string>& Expected() {
  static const auto* m = new std::map<std::string, std::string>{{"db/0001/01.ltx", kC}, {"db/0002/01.ltx", kE}};
  return *m;
}

std::map<std::string, std::string> Contents(MemStore* mem) {
  std::map<std::string, std::string> out;
  auto all = mem->List("");
  EXPECT_TRUE(all.ok());
  if (!all.ok()) return out;
  for (const ObjectInfo& o : *all) out[o.key] = *mem->GetBytes(o.key);
  return out;
}

RetryOptions NoSleep() {
  RetryOptions o;
  o.seed = 20261126;  // fixed: the sweep is deterministic
  o.sleeper = [](int64_t, std::stop_token stop) { return !stop.stop_requested(); };
  return o;
}

int64_t CleanRunCalls() {
  MemStore mem;
  FaultStore fault(&mem);
  RetryingStore store(&fault, NoSleep());
  EXPECT_TRUE(Workload(&store).ok());
  EXPECT_EQ(Contents(&mem), Expected());
  return fault.calls();
}

void Sweep(const std::function<FaultRule(int64_t i)>& rule_for, const char* mode) {
  const int64_t n = CleanRunCalls();
  ASSERT_GE(n, 10);
  for (int64_t i = 1; i <= n + 1; i++) {
    MemStore mem;
    FaultStore fault(&mem);
    const int id = fault.AddRule(rule_for(i));
    RetryingStore store(&fault, NoSleep());
    Status st = Workload(&store);
    ASSERT_TRUE(st.ok()) << mode << " at call " << i << " of " << n << ": " << st.message();
    EXPECT_EQ(Contents(&mem), Expected()) << mode << " at call " << i;
    if (i <= n) {
      EXPECT_GE(fault.fired(id), 1) << mode << " at call " << i;
    }
  }
}

TEST(RetryFaultSweep, EveryFailedCallIsRetriedToTheCorrectState) {
  Sweep([](int64_t i) { return FaultRule::FailNth(FaultOp::kAny, i); }, "fail");
}

TEST(RetryFaultSweep, EveryAckLostCallEndsInTheCorrectState) {
  Sweep([](int64_t i) { return FaultRule::AckLostNth(FaultOp::kAny, i); }, "ack-lost");
}

TEST(RetryFaultSweep, EveryBurstOfThreeFailuresIsRetriedToTheCorrectState) {
  Sweep(
      [](int64_t i) {
        FaultRule r = FaultRule::FailNth(FaultOp::kAny, i, Unavailable("503 SlowDown"));
        r.times = 3;
        return r;
      },
      "burst");
}

TEST(RetryFaultSweep, EveryReadCutIsResumedToTheCorrectState) {
  for (uint64_t k : {0ull, 1ull, 99ull, 4'096ull, 9'999ull, 65'536ull}) {
    MemStore mem;
    FaultStore fault(&mem);
    fault.AddRule(FaultRule::TruncateReads(k, /*times=*/3));
    RetryingStore store(&fault, NoSleep());
    Status st = Workload(&store);
    ASSERT_TRUE(st.ok()) << "cut after " << k << " bytes: " << st.message();
    EXPECT_EQ(Contents(&mem), Expected()) << "cut after " << k;
  }
}

TEST(RetryFaultSweep, RandomFaultsWithASeedEndInTheCorrectState) {
  for (uint64_t seed = 1; seed <= 50; seed++) {
    MemStore mem;
    FaultOptions fo;
    fo.seed = seed;
    FaultStore fault(&mem, fo);
    fault.AddRule(FaultRule::FailWithProbability(FaultOp::kAny, 0.2));
    FaultRule lost = FaultRule::AckLostNth(FaultOp::kAny, 1);
    lost.times = -1;
    lost.probability = 0.1;
    fault.AddRule(lost);
    FaultRule cut = FaultRule::TruncateReads(1'000);
    cut.probability = 0.3;
    fault.AddRule(cut);
    RetryOptions ro = NoSleep();
    ro.max_attempts = 30;
    RetryingStore store(&fault, ro);
    Status st = Workload(&store);
    ASSERT_TRUE(st.ok()) << "seed " << seed << ": " << st.message();
    EXPECT_EQ(Contents(&mem), Expected()) << "seed " << seed;
  }
}

}  // namespace
}  // namespace walship::storage
