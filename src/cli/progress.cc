#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include "base/clock.h"
#include "base/log.h"
#include "base/timefmt.h"

namespace walship::cli {

Progress::Progress(std::string what, bool enabled)
    : what_(std::move(what)), enabled_(enabled), tty_(isatty(STDERR_FILENO) == 1),
      start_ms_(SystemClock::Default()->MonotonicMs()) {}

void Progress::Update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (!have_base_) {
    have_base_ = true;
    base_done_ = done;
    start_ms_ = SystemClock::Default()->MonotonicMs();
  }
  int64_t now = SystemClock::Default()->MonotonicMs();
  const int64_t every = tty_ ? 100 : 5000;
  if (done >= total && finished_) return;
  if (now - last_ms_ < every && done < total) return;
  if (done >= total) finished_ = true;
  last_ms_ = now;
  double secs = double(now - start_ms_) / 1000.0;
  double rate = secs > 0 && done > base_done_ ? double(done - base_done_) / secs : 0;
  double frac = total ? double(done) / double(total) : 1.0;
  if (frac > 1) frac = 1;
  std::string eta = "--";
  if (rate > 0 && total > done) eta = FormatDurationMs(int64_t(double(total - done) / rate * 1000.0 / 1000) * 1000);
  if (tty_) {
    const int width = 30;
    int filled = int(frac * width);
    std::string bar(size_t(filled), '#');
    bar.append(size_t(width - filled), '.');
    std::fprintf(stderr, "\r%s [%s] %5.1f%% %s / %s  %s/s  ETA %s   ", what_.c_str(), bar.c_str(), frac * 100,
                 FormatBytes(done).c_str(), FormatBytes(total).c_str(), FormatBytes(uint64_t(rate)).c_str(),
                 eta.c_str());
    std::fflush(stderr);
    drew_ = true;
  } else {
    WLOG_INFO("{}: {:.1f}% ({} of {}, {}/s, ETA {})", what_, frac * 100, FormatBytes(done), FormatBytes(total),
              FormatBytes(uint64_t(rate)), eta);
  }
}

void Progress::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (drew_) std::fprintf(stderr, "\n");
  drew_ = false;
}

}  // namespace walship::cli
