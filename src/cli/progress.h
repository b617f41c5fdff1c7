#pragma once
// Progress for long work: a bar with bytes, rate and ETA on a terminal
// (stderr is a TTY), otherwise a log line every few seconds. Thread-compatible.

#include <cstdint>
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
};

}  // namespace walship::cli
