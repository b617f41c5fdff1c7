#pragma once
// Progress for long work: a bar with bytes, rate and ETA on a terminal
// (stderr is a TTY, redrawn at most 10 times a second), otherwise a log line
// every 5 seconds. The rate counts from the first Update (so bytes a resumed
// restore already had do not inflate it). Thread-safe: Update may be called
// from any thread.

#include <cstdint>
#include <mutex>
#include <string>

namespace walship::cli {

class Progress {
 public:
  explicit Progress(std::string what, bool enabled = true);
  void Update(uint64_t done, uint64_t total);
  void Finish();

 private:
  std::string what_;
  bool enabled_;
  bool tty_;
  int64_t start_ms_;
  int64_t last_ms_ = 0;
  bool drew_ = false;
  bool finished_ = false;
  bool have_base_ = false;
  uint64_t base_done_ = 0;  // done at the first Update
  std::mutex mu_;
};

}  // namespace walship::cli
