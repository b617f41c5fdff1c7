#pragma once
// AWS Signature Version 4 for S3 requests, as a pure function.
//
// The caller passes the request as it will be sent: the path already
// URI-encoded once (S3 does not double-encode), raw query parameters, and the
// headers to sign (at least "host"). Sign() adds x-amz-date,
// x-amz-content-sha256 and, with a session token, x-amz-security-token, and
// returns those plus Authorization: the headers to add to the request.
// Thread-safe; no I/O.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace walship::storage::s3 {

using Header = std::pair<std::string, std::string>;

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty: none
};

struct SigningInput {
  std::string method;                                      // "GET", "PUT", ...
  std::string canonical_uri;                               // "/bucket/a%20b" (encoded, '/' kept)
  std::vector<std::pair<std::string, std::string>> query;  // raw names and values
  std::vector<Header> headers;                             // raw names and values; must include host
  std::string payload_hash;                                // hex SHA-256 or "UNSIGNED-PAYLOAD"
};

struct SigningResult {
  std::vector<Header> headers;  // x-amz-date, x-amz-content-sha256, [x-amz-security-token], authorization
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // hex
};

// RFC 3986 percent-encoding of everything but the unreserved set
// (A-Z a-z 0-9 - . _ ~); '/' is kept when encode_slash is false.
std::string UriEncode(std::string_view s, bool encode_slash);

// "20130524T000000Z" for a Unix time in seconds.
std::string AmzDate(int64_t unix_seconds);

// Hex SHA-256 of a payload (the x-amz-content-sha256 value).
std::string PayloadHash(std::string_view payload);

SigningResult SignV4(const SigningInput& in, const std::string& region, const std::string& service,
                     int64_t unix_seconds, const Credentials& creds);

}  // namespace walship::storage::s3
