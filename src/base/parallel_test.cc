#include "base/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace walship {
namespace {

TEST(ParallelFor, RunsEveryItemOnceOnAtMostTheGivenThreads) {
  std::vector<std::atomic<int>> runs(100);
  std::atomic<int> running{0}, most{0};
  Status s = ParallelFor(runs.size(), 3, [&](size_t i) {
    const int now = ++running;
    for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    runs[i]++;
    running--;
    return Status::OK();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (size_t i = 0; i < runs.size(); i++) EXPECT_EQ(runs[i].load(), 1) << i;
  EXPECT_LE(most.load(), 3);
  EXPECT_TRUE(ParallelFor(0, 4, [](size_t) { return Internal("never called"); }).ok());
}

TEST(ParallelFor, TheFirstErrorWinsAndNoItemStartsAfterIt) {
  std::atomic<int> started{0};
  Status s = ParallelFor(1000, 1, [&](size_t i) {
    started++;
    return i == 5 ? NotFound("item 5") : Status::OK();
  });
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(), "item 5");
  EXPECT_EQ(started.load(), 6);
}

}  // namespace
}  // namespace walship
