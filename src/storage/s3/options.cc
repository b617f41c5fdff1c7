#include "storage/s3/options.h"

#include <cctype>
#include <vector>

#include "base/timefmt.h"
#include "storage/s3/s3_client.h"

namespace walship::storage::s3 {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; in a query '+' is a space (Go's url.QueryUnescape).
Result<std::string> Unescape(const std::string& s, bool query) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '+' && query) {
      out += ' ';
    } else if (s[i] == '%') {
      const int hi = i + 2 < s.size() ? Hex(s[i + 1]) : -1, lo = i + 2 < s.size() ? Hex(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return InvalidArgument("bad percent escape in \"" + s + "\"");
      out += char(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

Result<bool> ParseBool(const std::string& name, const std::string& v) {
  const std::string l = Lower(v);
  if (l == "true" || l == "1" || l == "t" || l == "yes") return true;
  if (l == "false" || l == "0" || l == "f" || l == "no") return false;
  return InvalidArgument("query parameter " + name + "=" + v + ": want true or false");
}

bool IsIpv4(const std::string& h) {
  int dots = 0;
  for (char c : h) {
    if (c == '.') {
      dots++;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

// s == prefix + suffix with a non-empty prefix: *prefix = it.
bool CutSuffix(const std::string& s, const std::string& suffix, std::string* prefix) {
  if (s.size() <= suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  *prefix = s.substr(0, s.size() - suffix.size());
  return true;
}

// "BUCKET.s3", "BUCKET.s3.REGION" or "BUCKET.s3-REGION" (REGION without dots).
bool SplitS3Label(const std::string& s, std::string* bucket, std::string* region) {
  for (size_t at = s.rfind(".s3"); at != std::string::npos && at > 0; at = s.rfind(".s3", at - 1)) {
    const std::string tail = s.substr(at + 3);
    if (!tail.empty() && tail[0] != '.' && tail[0] != '-') continue;
    const std::string r = tail.empty() ? "" : tail.substr(1);
    if (r.find('.') != std::string::npos || (!tail.empty() && r.empty())) continue;
    *bucket = s.substr(0, at);
    *region = r;
    return true;
  }
  return false;
}

// Litestream's s3.ParseHost, plus "bucket.host:port" (MinIO style) and AWS hosts.
void ParseHost(const std::string& authority, S3Options* o) {
  std::string host = authority, port;
  const size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (IsIpv4(host)) return;  // an endpoint, not a bucket: no bucket given
  std::string endpoint, scheme = "https://", rest, b, r;
  bool path_style = true;
  if (CutSuffix(host, ".amazonaws.com", &rest) && SplitS3Label(rest, &b, &r)) {
    o->bucket = b;  // bucket.s3[.-REGION].amazonaws.com: AWS itself
    if (!r.empty()) o->region = r;
    path_style = false;
  } else if (host == "localhost" || CutSuffix(host, ".localhost", &o->bucket)) {
    scheme = "http://";
    endpoint = "localhost";
  } else if (CutSuffix(host, ".backblazeb2.com", &rest) && SplitS3Label(rest, &b, &r) && !r.empty()) {
    o->bucket = b;
    o->region = r;
    endpoint = "s3." + r + ".backblazeb2.com";
  } else if (CutSuffix(host, ".s3.filebase.com", &o->bucket)) {
    endpoint = "s3.filebase.com";
  } else if (CutSuffix(host, ".digitaloceanspaces.com", &rest) && rest.rfind('.') != std::string::npos) {
    o->bucket = rest.substr(0, rest.rfind('.'));
    o->region = rest.substr(rest.rfind('.') + 1);
    endpoint = o->region + ".digitaloceanspaces.com";
  } else if (CutSuffix(host, ".scw.cloud", &rest) && SplitS3Label(rest, &b, &r) && !r.empty()) {
    o->bucket = b;
    o->region = r;
    endpoint = "s3." + r + ".scw.cloud";
  } else if (!port.empty() && host.find('.') != std::string::npos) {
    // MinIO style: the first label is the bucket, the rest host:port.
    o->bucket = host.substr(0, host.find('.'));
    endpoint = EndpointWithScheme(host.substr(host.find('.') + 1) + ":" + port);
    scheme = "";
  } else {
    o->bucket = authority;
    path_style = false;
  }
  if (!endpoint.empty()) {
    if (!port.empty() && scheme != "") endpoint += ":" + port;
    o->endpoint = scheme + endpoint;
    o->force_path_style = path_style;
  }
}

Status ApplyQuery(const std::string& query, S3Options* o) {
  size_t i = 0;
  while (i <= query.size() && !query.empty()) {
    size_t amp = query.find('&', i);
    if (amp == std::string::npos) amp = query.size();
    const std::string pair = query.substr(i, amp - i);
    i = amp + 1;
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    WALSHIP_ASSIGN_OR_RETURN(std::string name, Unescape(pair.substr(0, eq), true));
    WALSHIP_ASSIGN_OR_RETURN(std::string v, Unescape(eq == std::string::npos ? "" : pair.substr(eq + 1), true));
    if (name == "endpoint") {
      o->endpoint = EndpointWithScheme(v);
      if (!o->force_path_style.has_value()) o->force_path_style = true;
    } else if (name == "region") {
      o->region = v;
    } else if (name == "forcePathStyle" || name == "force-path-style") {
      WALSHIP_ASSIGN_OR_RETURN(bool b, ParseBool(name, v));
      o->force_path_style = b;
    } else if (name == "skipVerify" || name == "skip-verify") {
      WALSHIP_ASSIGN_OR_RETURN(o->skip_verify, ParseBool(name, v));
    } else if (name == "signPayload" || name == "sign-payload") {
      WALSHIP_ASSIGN_OR_RETURN(o->sign_payload, ParseBool(name, v));
    } else if (name == "requireContentMD5" || name == "require-content-md5") {
      WALSHIP_ASSIGN_OR_RETURN(o->require_content_md5, ParseBool(name, v));
    } else if (name == "storageClass" || name == "storage-class") {
      o->storage_class = v;
    } else if (name == "partSize" || name == "part-size") {
      auto n = ParseByteSize(v);
      if (!n.ok() || *n == 0) return InvalidArgument("query parameter " + name + "=" + v + ": want a positive size");
      o->part_size = *n;
    } else if (name == "concurrency") {
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1 || n > 1000) {
        return InvalidArgument("query parameter concurrency=" + v + ": want a positive integer");
      }
      o->concurrency = int(n);
    }
    // Other parameters are ignored, as Litestream does.
  }
  return Status::OK();
}

}  // namespace

std::string LitestreamPrefix(const std::string& url_path) {
  // Go's path.Clean.
  if (url_path.empty()) return ".";
  const bool rooted = url_path[0] == '/';
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= url_path.size()) {
    size_t j = url_path.find('/', i);
    if (j == std::string::npos) j = url_path.size();
    const std::string seg = url_path.substr(i, j - i);
    i = j + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back("..");
      }
      continue;
    }
    parts.push_back(seg);
  }
  std::string out = rooted ? "/" : "";
  for (size_t k = 0; k < parts.size(); k++) out += (k > 0 ? "/" : "") + parts[k];
  if (out.empty()) out = ".";
  // Litestream trims the leading '/'.
  if (!out.empty() && out[0] == '/') out.erase(0, 1);
  return out;
}

Result<S3Options> ParseS3Url(const std::string& url) {
  if (Lower(url.substr(0, 5)) != "s3://") return InvalidArgument("replica URL: not an s3:// URL");
  // Messages show the URL without user info: it may hold a secret.
  std::string shown = url;
  {
    const size_t end = url.find_first_of("/?#", 5);
    const size_t at = url.substr(0, end).rfind('@');
    if (at != std::string::npos && at >= 5) shown = "s3://" + url.substr(at + 1);
  }
  const std::string ctx = "replica URL " + shown;
  std::string rest = url.substr(5);
  if (rest.find('#') != std::string::npos) return InvalidArgument(ctx + ": an s3 URL takes no fragment");
  std::string query;
  if (const size_t q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const std::string raw_path = slash == std::string::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string::npos) {
    return InvalidArgument(ctx +
                           ": credentials do not belong in the URL; use access-key-id/secret-access-key or "
                           "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
  }
  if (Lower(authority).rfind("arn:", 0) == 0) {
    return InvalidArgument(ctx + ": S3 access point ARNs are not supported yet");
  }
  if (authority.empty()) return InvalidArgument(ctx + ": missing bucket (s3://bucket/path)");
  S3Options o;
  ParseHost(authority, &o);
  if (o.bucket.empty()) return InvalidArgument(ctx + ": missing bucket name in host \"" + authority + "\"");
  auto path = Unescape(raw_path, false);
  if (!path.ok()) return path.status().WithContext(ctx);
  o.prefix = LitestreamPrefix(*path);
  Status st = ApplyQuery(query, &o);
  if (!st.ok()) return st.WithContext(ctx);
  return o;
}

}  // namespace walship::storage::s3
