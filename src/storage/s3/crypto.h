#pragma once
// Hashes and MACs for S3 request signing, over OpenSSL's EVP APIs.
// Pure functions; thread-safe.

#include <string>
#include <string_view>

namespace walship::storage::s3 {

// Raw 32-byte SHA-256 digest.
std::string Sha256(std::string_view data);
// Raw 32-byte HMAC-SHA-256 of data under key.
std::string HmacSha256(std::string_view key, std::string_view data);
// Raw 16-byte MD5 digest (for Content-MD5 only, never for security).
std::string Md5(std::string_view data);

// Lower-case hex of bytes.
std::string HexEncode(std::string_view bytes);
// Standard base64 with padding.
std::string Base64Encode(std::string_view bytes);

}  // namespace walship::storage::s3
