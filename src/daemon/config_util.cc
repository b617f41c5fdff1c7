#include "daemon/config_util.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <utility>

#include "base/file.h"
#include "daemon/config.h"

namespace walship::daemon {
namespace config_internal {
namespace {

// ---------------------------------------------------------------------------
// Environment expansion: a transcription of Go's os.Expand.

bool IsShellSpecialVar(char c) { return std::string_view("*#$@!?-0123456789").find(c) != std::string_view::npos; }

bool IsAlphaNum(char c) { return c == '_' || std::isalnum(static_cast<unsigned char>(c)); }

// Name after a '$' and the number of bytes it takes. ("", w > 0) is bad
// syntax that Go silently eats; ("", 0) leaves the '$' alone.
std::pair<std::string_view, size_t> GetShellName(std::string_view s) {
  if (s[0] == '{') {
    if (s.size() > 2 && IsShellSpecialVar(s[1]) && s[2] == '}') return {s.substr(1, 1), 3};
    for (size_t i = 1; i < s.size(); i++) {
      if (s[i] == '}') {
        if (i == 1) return {"", 2};  // "${}"
        return {s.substr(1, i - 1), i + 1};
      }
    }
    return {"", 1};  // "${" without a closing brace
  }
  if (IsShellSpecialVar(s[0])) return {s.substr(0, 1), 1};
  size_t i = 0;
  while (i < s.size() && IsAlphaNum(s[i])) i++;
  return {s.substr(0, i), i};
}

}  // namespace

std::string LookupEnvOrPid(std::string_view name) {
  if (name == "PID") return std::to_string(::getpid());
  const char* v = std::getenv(std::string(name).c_str());
  return v ? v : "";
}

std::string ExpandEnv(std::string_view s, const std::function<std::string(std::string_view)>& lookup) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  for (size_t j = 0; j < s.size(); j++) {
    if (s[j] != '$' || j + 1 >= s.size()) continue;
    out.append(s.substr(i, j - i));
    auto [name, w] = GetShellName(s.substr(j + 1));
    if (!name.empty()) {
      out += lookup(name);
    } else if (w == 0) {
      out.push_back('$');
    }
    j += w;
    i = j + 1;
  }
  out.append(s.substr(std::min(i, s.size())));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool IsUrl(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && IsAlphaNum(s[i])) i++;
  return i > 0 && s.substr(i, 3) == "://";
}

std::string RedactUrl(std::string_view url) {
  size_t start = url.find("://");
  if (start == std::string_view::npos) return std::string(url);
  start += 3;
  size_t end = url.find_first_of("/?#", start);
  std::string_view authority = url.substr(start, end == std::string_view::npos ? url.npos : end - start);
  size_t at = authority.rfind('@');
  size_t colon = authority.find(':');
  if (at == std::string_view::npos || colon == std::string_view::npos || colon > at) return std::string(url);
  std::string out(url);
  out.replace(start + colon + 1, at - colon - 1, "xxxxx");
  return out;
}

std::string UrlPassword(std::string_view url) {
  std::string redacted = RedactUrl(url);
  if (redacted == url) return "";
  size_t start = url.find("://") + 3;
  size_t colon = url.find(':', start);
  size_t at = url.substr(0, url.find_first_of("/?#", start)).rfind('@');
  return std::string(url.substr(colon + 1, at - colon - 1));
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) prev[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string HomeDir() {
  if (const char* h = std::getenv("HOME"); h && *h) return h;
  struct passwd pw;
  struct passwd* res = nullptr;
  char buf[4096];
  if (::getpwuid_r(::getuid(), &pw, buf, sizeof buf, &res) == 0 && res && res->pw_dir) return res->pw_dir;
  return "";
}

std::string FilePathFromUrl(std::string_view url) {
  std::string_view rest = url.substr(url.find("://") + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));
  if (rest.empty()) return "";
  return rest[0] == '/' ? std::string(rest) : "/" + std::string(rest);
}

std::string Redact(std::string msg, std::vector<std::string> secrets) {
  std::sort(secrets.begin(), secrets.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const std::string& s : secrets) {
    if (s.size() < 4) continue;  // too short to tell apart from ordinary text
    for (size_t pos = msg.find(s); pos != std::string::npos; pos = msg.find(s, pos + 10)) {
      msg.replace(pos, s.size(), "<redacted>");
    }
  }
  return msg;
}

}  // namespace config_internal

Result<std::string> ExpandPath(std::string_view path) {
  std::string s(path);
  for (std::string_view prefix : {"sqlite3://", "sqlite://"}) {
    if (s.rfind(prefix, 0) == 0) {
      s.erase(0, prefix.size());
      break;
    }
  }
  if (s.empty()) return InvalidArgument("empty path");
  if (s == "~" || s.rfind("~/", 0) == 0) {
    std::string home = config_internal::HomeDir();
    if (home.empty()) return InvalidArgument("cannot expand path " + s + ": no home directory available");
    s = home + s.substr(1);
  }
  std::string abs = AbsPath(s);
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  return abs;
}

std::string DefaultMetaPath(std::string_view db_path) {
  return JoinPath(DirName(db_path), "." + BaseName(db_path) + "-litestream");
}

}  // namespace walship::daemon
