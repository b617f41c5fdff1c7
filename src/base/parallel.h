#pragma once
// Runs independent items on a few threads, the calling thread among them.

#include <cstddef>
#include <functional>

#include "base/status.h"

namespace walship {

// Runs fn(i) for i in [0, n) on up to `threads` threads (at least one; the
// caller's is one of them). The first error wins: it is returned, and no
// item starts after it (items already running finish).
Status ParallelFor(size_t n, int threads, const std::function<Status(size_t)>& fn);

}  // namespace walship
