#include "base/parallel.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace walship {

Status ParallelFor(size_t n, int threads, const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status first;
  std::atomic<bool> stop{false};
  auto work = [&] {
    for (;;) {
      if (stop.load()) return;
      size_t i = next.fetch_add(1);
      if (i >= n) return;
      Status s = fn(i);
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu);
        if (first.ok()) first = s;
        stop = true;
      }
    }
  };
  const size_t k = std::min<size_t>(n, size_t(std::max(threads, 1)));
  std::vector<std::thread> ts;
  for (size_t i = 1; i < k; i++) ts.emplace_back(work);
  work();
  for (auto& t : ts) t.join();
  return first;
}

}  // namespace walship
