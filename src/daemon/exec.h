#pragma once
// `replicate -exec CMD` (and the config's `exec:`): the application runs as
// walship's child. As in Litestream v0.5 (compat reference 7.1): the command
// line is split by shell-word rules, without a shell; the child inherits the
// environment, stdin, stdout and stderr; it starts once replication is
// running (after any restore-if-db-not-exists); SIGINT/SIGTERM are forwarded
// to it and walship waits for it; when it exits, walship does its final sync
// and exits (1 if the child failed).

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace walship::daemon {

// Splits a command line into words as go-shellwords does by default (what
// Litestream uses): blanks separate words; '...' is literal; "..." keeps
// blanks; a backslash outside single quotes escapes the next character
// (inside double quotes too, unlike sh); '' and "" make an empty word; no
// variable, glob or backtick expansion. Unquoted
// ; & | < > (shell operators, which Litestream silently cuts the command at)
// and an unclosed quote are kInvalidArgument; so is a line with no words.
Result<std::vector<std::string>> SplitShellWords(std::string_view line);

// How a child ended.
struct ChildExit {
  int code = 0;    // exit code, when !signaled
  int signal = 0;  // the signal that killed it, when signaled
  bool signaled = false;
  bool ok() const { return !signaled && code == 0; }
  std::string Describe() const;  // "exited with code 3", "was killed by signal 9 (Killed)"
};

// A child process started with argv[0] looked up in PATH. The child gets the
// default disposition and an empty mask for SIGINT, SIGTERM, SIGCHLD and
// SIGPIPE whatever the parent blocks or ignores. Not thread-safe; the owner
// reaps it with Poll (after SIGCHLD) or Wait.
class ChildProcess {
 public:
  // kInvalidArgument (naming the command) if it cannot be started (not found,
  // not executable).
  static Result<ChildProcess> Spawn(const std::vector<std::string>& argv);

  ChildProcess(ChildProcess&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess();  // a child still running is killed (SIGKILL) and reaped

  pid_t pid() const { return pid_; }
  // Sends sig to the child (nothing once it has been reaped).
  void Signal(int sig) const;
  // The exit if the child has ended (reaping it), else nullopt.
  std::optional<ChildExit> Poll();
  // Blocks until the child ends.
  ChildExit Wait();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;  // -1 once reaped
};

}  // namespace walship::daemon
