#include "storage/s3/emulator_for_test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "base/file.h"
#include "storage/s3/xml.h"

extern char** environ;

namespace walship::storage::s3 {
namespace {

// The port a server announced in its log: moto (werkzeug) prints
// " * Running on http://127.0.0.1:N", s3rver "S3rver listening on 127.0.0.1:N",
// each once it listens. 0 until then.
int AnnouncedPort(const std::string& log) {
  auto text = ReadFileToString(log);
  if (!text.ok()) return 0;
  for (const char* marker : {"Running on http://127.0.0.1:", "Running on https://127.0.0.1:", "listening on 127.0.0.1:"}) {
    const size_t at = text->find(marker);
    if (at != std::string::npos) return std::atoi(text->c_str() + at + std::strlen(marker));
  }
  return 0;
}

// The end of a log, for an error message: the log's directory is removed
// with the emulator, which a failed Start destroys before anyone reads it.
std::string LogTail(const std::string& log) {
  auto text = ReadFileToString(log);
  if (!text.ok()) return "(" + log + " unreadable)";
  constexpr size_t kTail = 2000;
  const std::string tail = text->size() > kTail ? "..." + text->substr(text->size() - kTail) : *text;
  return tail.empty() ? "(" + log + " empty)" : log + ":\n" + tail;
}

bool PortAccepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// An executable named `name` on $PATH, or "".
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  const std::string p = path != nullptr ? path : "";
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find(':', i);
    if (j == std::string::npos) j = p.size();
    const std::string candidate = p.substr(i, j - i) + "/" + name;
    if (j > i && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    i = j + 1;
  }
  return "";
}

// In a forked child: makes `fd` the child's `target` (0, 1 or 2). When the
// parent had `target` closed, pipe2/open may have returned that very number
// with O_CLOEXEC; dup2 onto itself keeps the flag, so clear it instead.
void RedirectInChild(int fd, int target) {
  if (fd == target) {
    ::fcntl(fd, F_SETFD, 0);
  } else {
    ::dup2(fd, target);
  }
}

// Ends a child that leads its own process group: SIGTERM to the group, up to
// `grace` for it to exit, then SIGKILL. Never waits unbounded on a child that
// ignores or mishandles SIGTERM.
void StopProcessGroup(pid_t pid, std::chrono::milliseconds grace) {
  ::kill(-pid, SIGTERM);
  int wst = 0;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (::waitpid(pid, &wst, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &wst, 0);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(-pid, SIGKILL);  // anything the leader left in its group
}

std::string S3rverScript(const std::string& source_dir) { return source_dir + "/node_modules/s3rver/bin/s3rver.js"; }

}  // namespace

Result<std::unique_ptr<S3Emulator>> S3Emulator::Start(Kind kind, const std::string& source_dir, bool require_auth) {
  if (kind == Kind::kMoto && FindOnPath("moto_server").empty()) {
    return FailedPrecondition("moto_server is not on PATH (pip install 'moto[server]')");
  }
  if (kind == Kind::kS3rverTls && FindOnPath("openssl").empty()) return FailedPrecondition("openssl is not on PATH");
  if (kind != Kind::kMoto) {
    if (FindOnPath("node").empty()) return FailedPrecondition("node is not on PATH");
    if (::access(S3rverScript(source_dir).c_str(), R_OK) != 0) {
      return FailedPrecondition(S3rverScript(source_dir) + " is missing (run npm ci)");
    }
  }
  const char* tmpdir = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/walship-s3emu-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoStatus("mkdtemp", tmpl, errno);
  std::unique_ptr<S3Emulator> emu(new S3Emulator(kind, tmpl));
  emu->creds_ = kind != Kind::kMoto ? Credentials{"S3RVER", "S3RVER", ""} : Credentials{"test", "test", ""};
  WALSHIP_RETURN_IF_ERROR(emu->Launch(source_dir, require_auth && kind == Kind::kMoto));
  if (require_auth && kind == Kind::kMoto) WALSHIP_RETURN_IF_ERROR(emu->CreateIamUser());
  return emu;
}

// The server binds port 0 and says which port it got: no window in which
// another process can take a port picked for it (a free port chosen first
// and bound later by a slow-starting server sometimes went to another test).
Status S3Emulator::Launch(const std::string& source_dir, bool require_auth) {
  const std::string port = "0";
  std::vector<std::string> argv;
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; e++) env.emplace_back(*e);
  if (kind_ == Kind::kMoto) {
    argv = {"moto_server", "-H", "127.0.0.1", "-p", port};
    env.emplace_back("S3_UPLOAD_PART_MIN_SIZE=65536");
    // The three IAM calls of CreateIamUser go unauthenticated; then every call is checked.
    if (require_auth) env.emplace_back("INITIAL_NO_AUTH_ACTION_COUNT=3");
  } else {
    argv = {"node",
            "--openssl-legacy-provider",
            S3rverScript(source_dir),
            "-a",
            "127.0.0.1",
            "-p",
            port,
            "-d",
            dir_ + "/data",
            "-s"};
    if (kind_ == Kind::kS3rverTls) {
      const std::string cmd =
          "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
          "-keyout " +
          dir_ + "/key.pem -out " + ca_file() + " >" + dir_ + "/openssl.log 2>&1";
      if (std::system(cmd.c_str()) != 0) return Internal("openssl req failed: " + LogTail(dir_ + "/openssl.log"));
      for (const std::string& a : {std::string("--key"), dir_ + "/key.pem", std::string("--cert"), ca_file()}) {
        argv.push_back(a);
      }
    }
  }
  const std::string log = dir_ + "/server.log";
  // Everything the child needs is built before fork (no allocation after it).
  std::vector<char*> args, envp;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) return ErrnoStatus("open", log, errno);
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(log_fd);
    return ErrnoStatus("fork", argv[0], errno);
  }
  if (pid_ == 0) {
    ::setpgid(0, 0);
    RedirectInChild(log_fd, 1);
    RedirectInChild(log_fd, 2);
    ::execvpe(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  for (int i = 0; i < 300; i++) {  // up to 30 s
    if (port_ == 0) port_ = AnnouncedPort(log);
    if (port_ != 0 && PortAccepts(port_)) return Status::OK();
    int wst = 0;
    if (::waitpid(pid_, &wst, WNOHANG) == pid_) {
      pid_ = -1;
      return Unavailable(argv[0] + " exited at start: " + LogTail(log), false);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Unavailable(argv[0] + (port_ == 0 ? " did not say it listens" : " did not accept on 127.0.0.1:" +
                                std::to_string(port_)) + " within 30 s: " + LogTail(log), false);
}

S3Emulator::~S3Emulator() {
  if (pid_ > 0) StopProcessGroup(pid_, std::chrono::seconds(5));
  RemoveTree(dir_).IgnoreError();
}

Credentials S3Emulator::credentials() const { return creds_; }

Status S3Emulator::CreateIamUser() {
  ClientConfig cc;
  cc.endpoint = endpoint();
  cc.force_path_style = true;
  cc.service = "iam";
  cc.creds = creds_;
  S3Client iam(cc);
  auto call = [&](const std::string& form) -> Result<Response> {
    Request r;
    r.method = "POST";
    r.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    const std::string body = form + "&Version=2010-05-08";
    r.body = body;
    return iam.Call(r, "iam " + form.substr(0, form.find('&')));
  };
  WALSHIP_RETURN_IF_ERROR(call("Action=CreateUser&UserName=walship").status());
  const std::string policy =
      UriEncode(R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})", true);
  WALSHIP_RETURN_IF_ERROR(
      call("Action=PutUserPolicy&UserName=walship&PolicyName=all&PolicyDocument=" + policy).status());
  WALSHIP_ASSIGN_OR_RETURN(Response key, call("Action=CreateAccessKey&UserName=walship"));
  WALSHIP_ASSIGN_OR_RETURN(auto xml, ParseXml(key.body));
  const XmlNode* result = xml->Child("CreateAccessKeyResult");
  const XmlNode* ak = result != nullptr ? result->Child("AccessKey") : nullptr;
  if (ak == nullptr) return Internal("iam CreateAccessKey: unexpected response");
  creds_ = {ak->ChildText("AccessKeyId"), ak->ChildText("SecretAccessKey"), ""};
  return Status::OK();
}

Result<std::shared_ptr<S3Client>> S3Emulator::NewBucket(const std::string& bucket, bool sign_payload) const {
  ClientConfig cc;
  cc.endpoint = endpoint();
  cc.bucket = bucket;
  cc.region = "us-east-1";
  cc.force_path_style = true;
  cc.creds = credentials();
  cc.sign_payload = sign_payload;
  if (kind_ == Kind::kS3rverTls) cc.ca_bundle = ca_file();
  auto client = std::make_shared<S3Client>(cc);
  Request mk;
  mk.method = "PUT";
  WALSHIP_RETURN_IF_ERROR(client->Call(mk, "s3 create bucket " + bucket).status());
  return client;
}

Result<std::unique_ptr<FaultProxy>> FaultProxy::Start(int upstream_port, const std::string& source_dir) {
  const std::string script = source_dir + "/tests/support/fault_proxy.py";
  if (FindOnPath("python3").empty()) return FailedPrecondition("python3 is not on PATH");
  if (::access(script.c_str(), R_OK) != 0) return FailedPrecondition(script + " is missing");
  std::string upstream = "127.0.0.1:" + std::to_string(upstream_port);
  std::vector<std::string> argv = {"python3", script, "--upstream", upstream, "--exit-on-stdin-eof"};
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return ErrnoStatus("pipe", "", errno);
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return ErrnoStatus("pipe", "", errno);
  }
  std::unique_ptr<FaultProxy> p(new FaultProxy);
  p->pid_ = ::fork();
  if (p->pid_ < 0) {
    const int err = errno;
    for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
    return ErrnoStatus("fork", "python3", err);
  }
  if (p->pid_ == 0) {
    ::setpgid(0, 0);
    RedirectInChild(in[0], 0);
    RedirectInChild(out[1], 1);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  p->stdin_fd_ = in[1];
  // One JSON line: {"port": N, "url": "..."}, within 30 s. A child that says
  // nothing is stopped by p's destructor.
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (char c = 0; line.size() < 4096;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{out[0], POLLIN, 0};
    const int ready = ::poll(&pfd, 1, int(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    if (::read(out[0], &c, 1) != 1 || c == '\n') break;
    line += c;
  }
  ::close(out[0]);
  const size_t at = line.find("\"port\":");
  if (at == std::string::npos) return Unavailable("fault proxy did not start (said \"" + line + "\")", false);
  p->port_ = std::atoi(line.c_str() + at + 7);
  return p;
}

FaultProxy::~FaultProxy() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  if (pid_ > 0) StopProcessGroup(pid_, std::chrono::seconds(10));
}

Status FaultProxy::Control(const std::string& what, const std::string& body) {
  // The control endpoint shares the port: "bucket" __fault, "key" what.
  ClientConfig cc;
  cc.endpoint = endpoint();
  cc.bucket = "__fault";
  cc.force_path_style = true;
  cc.creds = {"test", "test", ""};
  S3Client client(cc);
  Request r;
  r.method = "POST";
  r.key = what;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = body;
  return client.Call(r, "fault proxy " + what).status();
}

Status FaultProxy::AddRule(const std::string& json) { return Control("rules", json); }
Status FaultProxy::Clear() { return Control("clear", ""); }

Result<size_t> PendingMultipartUploads(S3Client& client) {
  Request list;
  list.method = "GET";
  list.query = {{"uploads", ""}};
  WALSHIP_ASSIGN_OR_RETURN(Response resp, client.Call(list, "list multipart uploads"));
  WALSHIP_ASSIGN_OR_RETURN(auto xml, ParseXml(resp.body));
  return xml->Children("Upload").size();
}

}  // namespace walship::storage::s3
