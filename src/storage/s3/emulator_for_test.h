#pragma once
// Test support (linked only into tests): an S3 emulator on a free loopback
// port, in its own process group, stopped by the destructor. The server binds
// port 0 and the port is read from its log, so no other process can take it
// between a pick and the bind.
//   kMoto:   `moto_server -H 127.0.0.1 -p 0` (python moto). Accepts any
//            keys without checking signatures; honours If-None-Match: * on
//            PutObject and CompleteMultipartUpload. Started with
//            S3_UPLOAD_PART_MIN_SIZE=65536 so multipart tests stay small.
//            With require_auth, moto checks SigV4 signatures (its server
//            recomputes them with botocore) against an IAM user made at start.
//   kS3rver: `node --openssl-legacy-provider node_modules/s3rver/bin/s3rver.js`
//            (s3rver 3.7.1). Checks the key id (S3RVER) but not SigV4 signatures; ignores
//            If-None-Match on writes; reads "Range: bytes=0-0" as "bytes=0-";
//            answers a ranged GET of an empty object with Content-Length 1 and
//            no body; enciphers continuation tokens with DES (hence the
//            legacy provider on Node >= 17); its DeleteObjects races on
//            removing emptied directories (500, retryable).
// Not thread-safe; one per test process or fixture.

#include <sys/types.h>

#include <memory>
#include <string>

#include "base/status.h"
#include "storage/s3/s3_client.h"

namespace walship::storage::s3 {

class S3Emulator {
 public:
  // kS3rverTls: s3rver over https with a fresh self-signed certificate for
  // 127.0.0.1 (made with the openssl command); ca_file() names it.
  enum class Kind { kMoto, kS3rver, kS3rverTls };

  // kFailedPrecondition when the emulator is not installed (tests skip);
  // kUnavailable when it does not come up within 30 s.
  static Result<std::unique_ptr<S3Emulator>> Start(Kind kind, const std::string& source_dir, bool require_auth = false);
  ~S3Emulator();
  S3Emulator(const S3Emulator&) = delete;
  S3Emulator& operator=(const S3Emulator&) = delete;

  std::string endpoint() const {
    return (kind_ == Kind::kS3rverTls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_);
  }
  int port() const { return port_; }
  std::string ca_file() const { return dir_ + "/cert.pem"; }
  Credentials credentials() const;
  // A client for bucket (path style; for TLS trusting ca_file()), after creating the bucket.
  Result<std::shared_ptr<S3Client>> NewBucket(const std::string& bucket, bool sign_payload = true) const;

 private:
  S3Emulator(Kind kind, std::string dir) : kind_(kind), dir_(std::move(dir)) {}
  Status Launch(const std::string& source_dir, bool require_auth);
  Status CreateIamUser();  // moto with require_auth: a user allowed everything
  Kind kind_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  Credentials creds_;
};

// tests/support/fault_proxy.py in front of an emulator: a subprocess on a
// free loopback port, stopped by the destructor (SIGTERM, then SIGKILL after
// 10 s), and when this process dies (it exits when its stdin closes).
class FaultProxy {
 public:
  // kFailedPrecondition without python3 or the script.
  static Result<std::unique_ptr<FaultProxy>> Start(int upstream_port, const std::string& source_dir);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // POSTs a JSON rule to /__fault/rules, e.g. {"kind":"error","status":503,"method":"PUT"}.
  Status AddRule(const std::string& json);
  Status Clear();

 private:
  FaultProxy() = default;
  Status Control(const std::string& what, const std::string& body);
  int port_ = 0;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
};

// The bucket's unfinished multipart uploads (ListMultipartUploads), for tests
// that check a failed upload or copy was aborted.
Result<size_t> PendingMultipartUploads(S3Client& client);

}  // namespace walship::storage::s3
