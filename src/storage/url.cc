#include "storage/url.h"

#include <cctype>

#include "base/file.h"
#include "storage/file_store.h"
#include "storage/s3/s3_store.h"

namespace walship::storage {
namespace {

// Backends Litestream supports that walship does not build yet.
constexpr const char* kPlannedSchemes[] = {"gs", "abs", "sftp", "webdav", "webdavs", "nats", "oss"};

size_t SchemeEnd(const std::string& s) {
  size_t i = s.find("://");
  if (i == std::string::npos || i == 0 || !std::isalpha(static_cast<unsigned char>(s[0]))) {
    return std::string::npos;
  }
  for (size_t j = 1; j < i; j++) {
    const auto c = static_cast<unsigned char>(s[j]);
    if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') return std::string::npos;
  }
  return i;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return InvalidArgument("bad percent escape in path");
    out += char(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// "file://<host><path>" -> the absolute directory.
Result<std::string> FileUrlPath(const std::string& url, const std::string& rest) {
  const std::string ctx = "replica URL " + url;
  const size_t slash = rest.find('/');
  const std::string host = rest.substr(0, slash);
  if (!host.empty()) {
    return InvalidArgument(ctx + ": a file URL takes no host (got \"" + host + "\"); write file:///absolute/path");
  }
  if (slash == std::string::npos) return InvalidArgument(ctx + ": missing path; write file:///absolute/path");
  std::string raw = rest.substr(slash);
  if (raw.find_first_of("?#") != std::string::npos) {
    return InvalidArgument(ctx + ": a file URL takes no query or fragment (percent-encode '?' and '#')");
  }
  auto path = PercentDecode(raw);
  if (!path.ok()) return path.status().WithContext(ctx);
  return *path;
}

std::string CleanDir(const std::string& path) {
  std::string dir = AbsPath(path);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

bool LooksLikeUrl(const std::string& s) { return SchemeEnd(s) != std::string::npos; }

std::string RedactUrl(const std::string& url) {
  const size_t se = SchemeEnd(url);
  if (se == std::string::npos) return url;
  const size_t start = se + 3;
  const size_t end = url.find_first_of("/?#", start);
  const std::string authority = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  const size_t at = authority.rfind('@');
  if (at == std::string::npos) return url;
  return url.substr(0, start) + authority.substr(at + 1) + (end == std::string::npos ? "" : url.substr(end));
}

Result<OpenedReplica> OpenReplicaUrl(const std::string& url) {
  if (url.empty()) return InvalidArgument("replica URL is empty");
  const std::string shown = RedactUrl(url);
  std::string dir;
  const size_t se = SchemeEnd(url);
  if (se != std::string::npos) {
    std::string scheme = url.substr(0, se);
    for (char& c : scheme) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "s3") {
      auto opts = s3::ParseS3Url(url);
      if (!opts.ok()) return opts.status();
      auto r = OpenS3Replica(*opts);
      if (!r.ok()) return r.status().WithContext("open replica " + shown);
      r->url = shown;
      return r;
    }
    if (scheme != "file") {
      for (const char* planned : kPlannedSchemes) {
        if (scheme == planned) {
          return InvalidArgument("replica URL " + shown + ": the " + scheme +
                                 " backend is not built yet (supported: file, s3)");
        }
      }
      return InvalidArgument("replica URL " + shown + ": unsupported scheme \"" + scheme + "\" (supported: file, s3)");
    }
    WALSHIP_ASSIGN_OR_RETURN(std::string path, FileUrlPath(shown, url.substr(se + 3)));
    dir = CleanDir(path);
  } else {
    if (url.find('\0') != std::string::npos) return InvalidArgument("replica path contains a NUL byte");
    dir = CleanDir(url);
  }
  auto store = FileStore::Create(dir);
  if (!store.ok()) return store.status().WithContext("open replica " + shown);
  OpenedReplica r;
  r.store = std::shared_ptr<ObjectStore>(std::move(store).value());
  r.prefix = "";
  r.layout = KeyLayout::kFile;
  r.url = shown;
  return r;
}

Result<OpenedReplica> OpenS3Replica(const S3Options& in) {
  S3Options opts = in;
  std::string host = opts.endpoint.substr(opts.endpoint.find("://") == std::string::npos ? 0 : opts.endpoint.find("://") + 3);
  host = host.substr(0, host.find_first_of(":/"));
  auto ends_with = [&](const std::string& suffix) {
    return host.size() >= suffix.size() && host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends_with("fly.storage.tigris.dev") || ends_with("t3.storage.dev")) {  // compat 7.5
    opts.require_content_md5 = false;
    opts.extra_headers.emplace_back("X-Tigris-Consistent", "true");
  }
  auto store = s3::S3Store::Create(opts);
  if (!store.ok()) return store.status();
  OpenedReplica r;
  r.store = std::shared_ptr<ObjectStore>(std::move(store).value());
  r.prefix = opts.prefix;
  r.layout = KeyLayout::kS3;
  r.url = "s3://" + opts.bucket + (opts.prefix.empty() ? "" : "/" + opts.prefix);
  return r;
}

}  // namespace walship::storage
