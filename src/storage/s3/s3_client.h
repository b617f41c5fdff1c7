#pragma once
// A small S3 HTTP client over libcurl: builds URLs (path or virtual-host
// style), signs requests with SigV4, sends them over a pool of reused CURL
// easy handles (so connections are kept alive), and translates failures into
// Status in exactly one place (TranslateError).
//
// No retries here: retry is a decorator above the ObjectStore. Timeouts: 30 s
// to connect, then a low-speed limit (fail when under 1 byte/s for
// low_speed_time_s) instead of a total timeout, so big transfers never time
// out while they move. TLS peers are verified unless skip_verify; the CA
// bundle comes from ca_bundle (default: $AWS_CA_BUNDLE), used for https only.
// Secrets never appear in messages or logs.
//
// Thread-safe: Do() may be called concurrently; each call takes its own handle.

#include <cstdint>
#include <memory>
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "storage/s3/sigv4.h"

namespace walship::storage::s3 {

struct ClientConfig {
  std::string endpoint;  // with scheme: "https://s3.us-east-1.amazonaws.com", "http://127.0.0.1:9000"
  std::string bucket;
  std::string region = "us-east-1";
  bool force_path_style = false;
  bool skip_verify = false;
  bool sign_payload = true;  // false: x-amz-content-sha256 UNSIGNED-PAYLOAD
  Credentials creds;
  std::vector<Header> extra_headers;  // sent (and signed) on every request, e.g. X-Tigris-Consistent
  long connect_timeout_s = 30;
  long low_speed_time_s = 120;
  std::string ca_bundle;  // empty: $AWS_CA_BUNDLE if set, else curl's default
  size_t max_idle_handles = 16;
  std::string service = "s3";  // SigV4 service name (tests also talk to a fake "iam")
  // The region was not configured: when S3 answers that the bucket lives
  // elsewhere (x-amz-bucket-region, or <Region> in the error), switch to that
  // region (and, for AWS's default endpoint, its host) and resend once, as
  // Litestream's GetBucketLocation lookup achieves.
  bool follow_bucket_region = false;
};

struct Request {
  std::string method;                                      // GET, PUT, HEAD, POST, DELETE
  std::string key;                                         // object key; empty for bucket-level requests
  std::vector<std::pair<std::string, std::string>> query;  // raw
  std::vector<Header> headers;                             // raw; signed
  std::string_view body;                                   // must outlive the call
  size_t max_response_bytes = 1 << 20;                     // a longer body fails the call
  // Streaming: for a 2xx response, body bytes go to on_body (with the status
  // and headers received so far) instead of Response::body, and
  // max_response_bytes does not apply. on_body returning false aborts the
  // transfer (the call then fails). Called on the calling thread.
  std::function<bool(const struct Response& head, const char* data, size_t n)> on_body;
  // When set and true, the transfer is aborted at the next progress tick.
  const std::atomic<bool>* cancel = nullptr;
  // curl's receive buffer (the most body bytes per recv and per on_body
  // call); 0: curl's default (16 KiB). Large streamed reads use more, for
  // fewer system calls and wake-ups.
  size_t receive_buffer = 0;
};

struct Response {
  long status = 0;
  std::vector<Header> headers;  // names lower-cased
  std::string body;
  // The first header with this (lower-case) name, or "".
  std::string Get(std::string_view name) const;
};

// The one place where curl codes, HTTP status and S3 error XML become Status.
// `what` names the call ("s3 PUT db/0000/x.ltx"). curl_code 0 = transport ok.
//   - timeouts, connection failures and resets, 5xx, 408, 429, 409
//     ConditionalRequestConflict / OperationAborted, SlowDown, RequestTimeout,
//     Throttling: kUnavailable, retryable
//   - 404 -> kNotFound (NoSuchBucket -> kFailedPrecondition)
//   - 412 -> kAlreadyExists (a conditional write lost)
//   - 501 / NotImplemented -> kUnimplemented (not retried; callers with another way take it)
//   - other 4xx: kUnavailable, not retryable, "<what>: 403 AccessDenied: <Message>"
Status TranslateError(std::string_view what, int curl_code, const char* curl_detail, long http_status,
                      std::string_view body);

class S3Client {
 public:
  explicit S3Client(ClientConfig config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Sends one request. Returns the response for any HTTP status in 200..299;
  // anything else becomes a Status via TranslateError, with `what` as context.
  Result<Response> Call(const Request& req, std::string_view what);
  // Sends one request (twice when it follows the bucket's region) and returns
  // any HTTP response; transport errors only as Status. With `partial`, a failed transfer still leaves there what arrived
  // (status line and headers), for callers working around server bugs.
  Result<Response> Send(const Request& req, std::string_view what, Response* partial = nullptr);

  // "http://127.0.0.1:9000/bucket/key" or "https://bucket.host/key", with query.
  std::string UrlFor(const Request& req) const;
  // "s3://bucket (endpoint, region)": no secrets.
  std::string Describe() const;
  // As constructed; region() is the one in use (see follow_bucket_region).
  const ClientConfig& config() const { return config_; }
  std::string region() const;

 private:
  struct Handle;
  std::unique_ptr<Handle> Acquire();
  void Release(std::unique_ptr<Handle> h);
  struct Target {
    std::string region;
    std::string authority;  // "host[:port]" of the endpoint
  };
  Target CurrentTarget() const;
  Result<Response> SendOnce(const Request& req, std::string_view what, Response* partial);
  // Adopts the region a failed response names; false if it names none new.
  bool FollowRegion(const Response& resp);
  std::string HostHeader(const Target& t) const;
  std::string CanonicalPath(const std::string& key) const;
  std::string UrlFor(const Request& req, const Target& t) const;

  ClientConfig config_;
  std::string scheme_;  // "http" / "https"
  bool virtual_host_;
  bool default_endpoint_;  // AWS's, derived from the region
  mutable std::mutex target_mu_;
  Target target_;  // guarded by target_mu_
  std::mutex mu_;
  std::vector<std::unique_ptr<Handle>> idle_;  // guarded by mu_
};

// "https://" + host unless the host is local or private (localhost, 127.x,
// 10.x, 172.16-31.x, 192.168.x, ::1, *.local): "http://". Kept if present.
std::string EndpointWithScheme(const std::string& endpoint);

}  // namespace walship::storage::s3
