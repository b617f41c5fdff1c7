#pragma once
// S3Options: everything needed to open an S3 (or S3-compatible) replica,
// from a replica URL (ParseS3Url) or the config file (the daemon maps its
// YAML keys onto these fields). Secrets live here only in memory; nothing
// that prints an S3Options prints them.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace walship::storage::s3 {

struct S3Options {
  std::string bucket;
  // Path within the bucket; keys are <prefix>/<level %04x>/... (compat 2.1).
  std::string prefix;
  // "" = AWS. Without a scheme, http:// is added for local/private hosts, else https://.
  std::string endpoint;
  // "" = us-east-1; against AWS (no endpoint) then the bucket's own region
  // once S3 names it (ClientConfig::follow_bucket_region).
  std::string region;
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  // Unset: path style when an endpoint is given, virtual-host style for AWS.
  std::optional<bool> force_path_style;
  bool sign_payload = true;         // false: UNSIGNED-PAYLOAD
  bool require_content_md5 = true;  // Content-MD5 on DeleteObjects, PutObject and UploadPart
  bool skip_verify = false;         // TLS peer verification off
  std::string storage_class;        // x-amz-storage-class on uploads; "" = bucket default
  uint64_t part_size = 5 << 20;     // multipart above this; S3 minimum 5 MiB
  int concurrency = 5;              // parts in flight per multipart upload
  // HEAD before a no-overwrite Put, for servers that ignore If-None-Match
  // (s3rver, older MinIO). Unset: on with a custom endpoint, off for AWS.
  std::optional<bool> check_before_put;
  uint64_t read_chunk = uint64_t{256} << 20;                       // bytes per ranged GET while streaming a read
  std::vector<std::pair<std::string, std::string>> extra_headers;  // sent on every request
};

// Parses "s3://bucket[/prefix][?query]" per compat 7.4: host forms
// (bucket.s3[.region].amazonaws.com, bucket.s3.REGION.backblazeb2.com,
// bucket.REGION.digitaloceanspaces.com, bucket.s3.filebase.com,
// bucket.s3.REGION.scw.cloud, bucket.localhost[:port], bucket.host:port),
// query endpoint, region, forcePathStyle/force-path-style,
// skipVerify/skip-verify, signPayload/sign-payload,
// requireContentMD5/require-content-md5, storageClass/storage-class,
// partSize/part-size, concurrency. User info in the URL is rejected.
// kInvalidArgument names the problem.
Result<S3Options> ParseS3Url(const std::string& url);

// Go's path.Clean of "/"+path with the leading '/' removed, as Litestream
// derives prefixes: "" -> ".", "/" -> "", "a/b/" -> "a/b", "a//b/../c" -> "a/c".
std::string LitestreamPrefix(const std::string& url_path);

}  // namespace walship::storage::s3
