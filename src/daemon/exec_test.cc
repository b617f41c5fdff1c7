#include "daemon/exec.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/file.h"

namespace walship::daemon {
namespace {

using Words = std::vector<std::string>;

Words MustSplit(std::string_view line) {
  auto w = SplitShellWords(line);
  EXPECT_TRUE(w.ok()) << line << ": " << w.status().ToString();
  return w.ok() ? *w : Words{};
}

TEST(SplitShellWords, SplitsOnBlanksLikeGoShellwords) {
  EXPECT_EQ(MustSplit("myapp serve"), (Words{"myapp", "serve"}));
  EXPECT_EQ(MustSplit("  a\t b\n c  "), (Words{"a", "b", "c"}));
  EXPECT_EQ(MustSplit("/usr/bin/env FOO=1 app"), (Words{"/usr/bin/env", "FOO=1", "app"}));
}

TEST(SplitShellWords, QuotesKeepBlanksAndJoinWithNeighbours) {
  EXPECT_EQ(MustSplit("app 'a b' \"c d\""), (Words{"app", "a b", "c d"}));
  EXPECT_EQ(MustSplit("app --name='x y'z"), (Words{"app", "--name=x yz"}));
  EXPECT_EQ(MustSplit("app '' \"\""), (Words{"app", "", ""}));
  // Inside quotes the shell operators and $ are plain characters.
  EXPECT_EQ(MustSplit("sh -c 'a; b | c > d && $HOME'"), (Words{"sh", "-c", "a; b | c > d && $HOME"}));
  EXPECT_EQ(MustSplit("echo \"it's\""), (Words{"echo", "it's"}));
}

TEST(SplitShellWords, BackslashEscapesTheNextCharacterOutsideSingleQuotes) {
  EXPECT_EQ(MustSplit("app a\\ b"), (Words{"app", "a b"}));
  EXPECT_EQ(MustSplit("app \"say \\\"hi\\\"\""), (Words{"app", "say \"hi\""}));
  EXPECT_EQ(MustSplit("app '\\n'"), (Words{"app", "\\n"}));
  EXPECT_EQ(MustSplit("app \\;"), (Words{"app", ";"}));
  EXPECT_EQ(MustSplit("app \"a\\b\""), (Words{"app", "ab"}));  // go-shellwords, not sh
}

TEST(SplitShellWords, RejectsShellSyntaxUnclosedQuotesAndEmptyLines) {
  for (const char* bad : {"app; rm -rf /", "app | tee log", "app > log", "app < in", "app &", "app `id`"}) {
    auto w = SplitShellWords(bad);
    ASSERT_FALSE(w.ok()) << bad;
    EXPECT_EQ(w.status().code(), Code::kInvalidArgument);
    EXPECT_NE(w.status().message().find("without a shell"), std::string::npos) << w.status().message();
  }
  for (const char* bad : {"app 'a", "app \"a", "app a\\", "", "   "}) {
    auto w = SplitShellWords(bad);
    ASSERT_FALSE(w.ok()) << bad;
    EXPECT_EQ(w.status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(ChildProcess, ReportsTheExitCode) {
  auto c = ChildProcess::Spawn({"sh", "-c", "exit 3"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ChildExit e = c->Wait();
  EXPECT_FALSE(e.ok());
  EXPECT_FALSE(e.signaled);
  EXPECT_EQ(e.code, 3);
  EXPECT_EQ(e.Describe(), "exited with code 3");
  auto ok = ChildProcess::Spawn({"true"});
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->Wait().ok());
}

TEST(ChildProcess, GetsSignalsThatTheParentBlocksOrIgnores) {
  // The parent blocks SIGTERM and SIGCHLD and ignores SIGPIPE (as `replicate`
  // does); the child must start with an empty mask and SIGPIPE at its default.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
  auto prev_pipe = signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/walship-exec-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, status = dir + "/status";
  // dd, run directly (a shell would reset its own mask), copies the child's
  // own /proc status: SigBlk and SigIgn as the exec left them.
  auto d = ChildProcess::Spawn({"dd", "if=/proc/self/status", "of=" + status, "status=none"});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->Wait().ok());
  auto text = ReadFileToString(status);
  ASSERT_TRUE(text.ok());
  auto field = [&](const std::string& name) {
    size_t at = text->find(name + ":");
    EXPECT_NE(at, std::string::npos) << *text;
    return at == std::string::npos ? ~0ull : std::stoull(text->substr(at + name.size() + 1), nullptr, 16);
  };
  EXPECT_EQ(field("SigBlk"), 0u) << *text;
  EXPECT_EQ(field("SigIgn") & (1ull << (SIGPIPE - 1)), 0u) << *text;

  auto c = ChildProcess::Spawn({"sleep", "30"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->Poll().has_value());
  c->Signal(SIGTERM);
  std::optional<ChildExit> got;
  for (int i = 0; i < 1000 && !got; i++) {
    got = c->Poll();
    if (!got) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!got) c->Signal(SIGKILL);  // SIGTERM did not reach it: fail below, do not hang
  ChildExit e = got ? *got : c->Wait();
  EXPECT_TRUE(e.signaled);
  EXPECT_EQ(e.signal, SIGTERM);
  EXPECT_NE(e.Describe().find("killed by signal 15"), std::string::npos) << e.Describe();
  signal(SIGPIPE, prev_pipe);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  RemoveFile(status).IgnoreError();
  ::rmdir(dir.c_str());
}

TEST(ChildProcess, PollReapsOnceTheChildHasExited) {
  auto c = ChildProcess::Spawn({"true"});
  ASSERT_TRUE(c.ok());
  std::optional<ChildExit> e;
  for (int i = 0; i < 500 && !e; i++) {
    e = c->Poll();
    if (!e) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->ok());
  EXPECT_FALSE(c->Poll().has_value());  // reaped: nothing more
}

TEST(ChildProcess, ACommandThatCannotStartIsAnErrorNamingIt) {
  auto c = ChildProcess::Spawn({"walship-no-such-command-xyz", "arg"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find("walship-no-such-command-xyz"), std::string::npos) << c.status().message();
}

}  // namespace
}  // namespace walship::daemon
