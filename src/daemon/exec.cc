#include "daemon/exec.h"

#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

extern char** environ;

namespace walship::daemon {

Result<std::vector<std::string>> SplitShellWords(std::string_view line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false, single = false, dbl = false, escaped = false;
  for (char c : line) {
    if (escaped) {
      cur += c;
      escaped = false;
      in_word = true;
      continue;
    }
    if (single) {
      if (c == '\'') {
        single = false;
      } else {
        cur += c;
      }
      continue;
    }
    if (c == '\\') {
      escaped = true;
      continue;
    }
    if (dbl) {
      if (c == '"') {
        dbl = false;
      } else {
        cur += c;
      }
      continue;
    }
    switch (c) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        if (in_word) words.push_back(std::move(cur));
        cur.clear();
        in_word = false;
        continue;
      case '\'':
        single = in_word = true;
        continue;
      case '"':
        dbl = in_word = true;
        continue;
      case ';':
      case '&':
      case '|':
      case '<':
      case '>':
      case '`':
        return InvalidArgument(std::string("exec: the command line has an unquoted '") + c +
                               "': it is run without a shell (use sh -c '...' for shell syntax)");
      default:
        cur += c;
        in_word = true;
    }
  }
  if (single || dbl) return InvalidArgument("exec: the command line has an unclosed quote");
  if (escaped) return InvalidArgument("exec: the command line ends with a backslash");
  if (in_word) words.push_back(std::move(cur));
  if (words.empty()) return InvalidArgument("exec: the command line is empty");
  return words;
}

std::string ChildExit::Describe() const {
  if (!signaled) return "exited with code " + std::to_string(code);
  const char* name = strsignal(signal);
  return "was killed by signal " + std::to_string(signal) + (name ? std::string(" (") + name + ")" : "");
}

namespace {

ChildExit FromWaitStatus(int st) {
  ChildExit e;
  if (WIFSIGNALED(st)) {
    e.signaled = true;
    e.signal = WTERMSIG(st);
  } else {
    e.code = WEXITSTATUS(st);
  }
  return e;
}

}  // namespace

Result<ChildProcess> ChildProcess::Spawn(const std::vector<std::string>& argv) {
  if (argv.empty()) return InvalidArgument("exec: no command");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGCHLD, SIGPIPE}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  // glibc's posix_spawnp reports a failed exec (command not found, not
  // executable) as its return value.
  const int rc = posix_spawnp(&pid, args[0], nullptr, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return InvalidArgument("exec: cannot start " + argv[0] + ": " + strerror(rc));
  return ChildProcess(pid);
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  Wait();
}

void ChildProcess::Signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<ChildExit> ChildProcess::Poll() {
  if (pid_ <= 0) return std::nullopt;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != pid_) return std::nullopt;
  pid_ = -1;
  return FromWaitStatus(st);
}

ChildExit ChildProcess::Wait() {
  if (pid_ <= 0) return ChildExit{};
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, 0);
  } while (r < 0 && errno == EINTR);
  pid_ = -1;
  if (r < 0) return ChildExit{};  // not our child any more (cannot happen: we alone reap it)
  return FromWaitStatus(st);
}

}  // namespace walship::daemon
