#include "storage/s3/sigv4.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

#include "storage/s3/crypto.h"

namespace walship::storage::s3 {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and collapses runs of spaces, as SigV4 canonical header values want.
std::string CanonicalValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::string UriEncode(std::string_view s, bool encode_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && !encode_slash)) {
      out += char(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string AmzDate(int64_t unix_seconds) {
  time_t t = time_t(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf;
}

std::string PayloadHash(std::string_view payload) { return HexEncode(Sha256(payload)); }

SigningResult SignV4(const SigningInput& in, const std::string& region, const std::string& service,
                     int64_t unix_seconds, const Credentials& creds) {
  SigningResult r;
  const std::string amz_date = AmzDate(unix_seconds);
  const std::string date = amz_date.substr(0, 8);
  r.headers.emplace_back("x-amz-date", amz_date);
  if (service == "s3") r.headers.emplace_back("x-amz-content-sha256", in.payload_hash);
  if (!creds.session_token.empty()) r.headers.emplace_back("x-amz-security-token", creds.session_token);

  // Canonical query: encoded names and values, sorted by name then value.
  std::vector<std::pair<std::string, std::string>> q;
  for (const auto& [k, v] : in.query) q.emplace_back(UriEncode(k, true), UriEncode(v, true));
  std::sort(q.begin(), q.end());
  std::string query;
  for (const auto& [k, v] : q) {
    if (!query.empty()) query += '&';
    query += k + "=" + v;
  }

  // Canonical headers: lower-case names, sorted; repeated names joined by ','.
  std::vector<std::pair<std::string, std::string>> h;
  for (const auto& [k, v] : in.headers) h.emplace_back(Lower(k), CanonicalValue(v));
  for (const auto& [k, v] : r.headers) h.emplace_back(k, CanonicalValue(v));
  std::stable_sort(h.begin(), h.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canonical_headers, signed_headers;
  for (size_t i = 0; i < h.size(); i++) {
    if (i > 0 && h[i].first == h[i - 1].first) {
      canonical_headers.back() = ',';
      canonical_headers += h[i].second + "\n";
      continue;
    }
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += h[i].first;
    canonical_headers += h[i].first + ":" + h[i].second + "\n";
  }

  r.canonical_request = in.method + "\n" + in.canonical_uri + "\n" + query + "\n" + canonical_headers + "\n" +
                        signed_headers + "\n" + in.payload_hash;
  const std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  r.string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + HexEncode(Sha256(r.canonical_request));

  std::string key = HmacSha256("AWS4" + creds.secret_access_key, date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, service);
  key = HmacSha256(key, "aws4_request");
  r.signature = HexEncode(HmacSha256(key, r.string_to_sign));
  r.headers.emplace_back("authorization", "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + "/" + scope +
                                              ", SignedHeaders=" + signed_headers + ", Signature=" + r.signature);
  return r;
}

}  // namespace walship::storage::s3
