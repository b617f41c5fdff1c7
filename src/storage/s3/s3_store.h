#pragma once
// An S3 bucket (AWS or S3-compatible: R2, B2, MinIO, Tigris, moto, s3rver...)
// as an ObjectStore. Format-blind: keys are used as given (the replica layer
// builds them, KeyLayout::kS3).
//
// Put: below part_size one PutObject from a buffer (the body is read fully
// first, so a failing Source sends nothing); from part_size up a multipart
// upload with `concurrency` parts in flight, aborted on any failure. Memory:
// at most (concurrency + 1) * part_size. The timestamp goes to
// x-amz-meta-litestream-timestamp (RFC 3339 with trailing zeros of the
// fraction dropped, as Go's RFC3339Nano). no_overwrite sends If-None-Match: *
// (PutObject and CompleteMultipartUpload); with check_before_put it also
// HEADs first, for servers that ignore the header, and concurrent
// no-overwrite Puts of one key in this process are serialised so only one
// wins even there (other writers can still race on such servers).
// Open: ranged GETs of up to read_chunk bytes (a whole object, offset 0 and no
// length: one GET without Range), each streamed through a queue of up to
// 1 MiB (no more than the first GET's range) filled by its own transfer
// thread (memory per open read: at most 1 MiB), each after the first
// pinned to the first response's ETag with If-Match (a concurrent overwrite
// fails the read instead of mixing versions).
// Head: Content-Length; the timestamp metadata, else Last-Modified.
// List: ListObjectsV2 pages (1000 keys; continuation token), start-after, then
// filtered and sorted bytewise here too; mtime is LastModified
// (S3 listings carry no metadata; compat 2.4). Delete: DeleteObjects in
// batches of 1000 with Content-MD5; missing keys are fine.
// Errors: see TranslateError in s3_client.h. No retries here.
// Thread-safe.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "storage/object_store.h"
#include "storage/s3/options.h"
#include "storage/s3/s3_client.h"

namespace walship::storage::s3 {

class S3Store final : public ObjectStore {
 public:
  struct Tuning {
    uint64_t part_size = 5 << 20;
    int concurrency = 5;
    bool require_content_md5 = true;
    bool check_before_put = true;
    uint64_t read_chunk = uint64_t{256} << 20;  // bytes per ranged GET (streamed: memory is 1 MiB per open read)
    std::string storage_class;
    // HEAD before each read to learn the size, so no GET asks for bytes
    // past the end. For servers that mishandle such ranges: s3rver answers a
    // ranged GET of an empty object with Content-Length 1 and no body, and
    // the read then waits for its keep-alive timeout (5 s) before failing.
    bool head_before_get = false;
    // Copy: one CopyObject up to this size (S3's limit is 5 GiB), else a
    // multipart copy (UploadPartCopy) in parts of copy_part_size.
    uint64_t max_single_copy = uint64_t{5} << 30;
    uint64_t copy_part_size = uint64_t{512} << 20;
  };

  S3Store(std::shared_ptr<S3Client> client, Tuning tuning);
  // From options with resolved credentials; kInvalidArgument for bad values.
  static Result<std::unique_ptr<S3Store>> Create(const S3Options& opts);

  std::string Describe() const override { return client_->Describe(); }
  Status Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) override;
  Result<std::unique_ptr<Source>> Open(const std::string& key, uint64_t offset = 0,
                                       std::optional<uint64_t> length = std::nullopt) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after = "") override;
  Status Delete(const std::vector<std::string>& keys) override;
  // CopyObject within the bucket (metadata replaced: the timestamp is opts'),
  // or above max_single_copy a multipart copy, `concurrency` parts at a time
  // (aborted on failure). A HEAD of the source comes first. A server without
  // UploadPartCopy (s3rver: 501) fails the copy; the caller uploads instead.
  Status Copy(const std::string& src, const std::string& dst, const PutOptions& opts) override;

  S3Client* client() { return client_.get(); }

 private:
  class KeyReservation;
  class ObjectSource;
  Status PutSingle(const std::string& key, Source* body, uint64_t size, const PutOptions& opts);
  Status PutMultipart(const std::string& key, Source* body, uint64_t size, const PutOptions& opts);
  using PartEtags = std::vector<std::pair<int, std::string>>;
  // Create, parts(upload_id, etags), complete; abort when parts or complete fail.
  Status Multipart(const std::string& key, const PutOptions& opts, const std::string& what,
                   const std::function<Status(const std::string& upload_id, PartEtags* etags)>& parts);
  Status CopyParts(const std::string& source, const std::string& key, const std::string& upload_id, uint64_t size,
                   PartEtags* etags);
  Status UploadParts(const std::string& key, const std::string& upload_id, Source* body, uint64_t size,
                     PartEtags* etags);
  std::vector<Header> UploadHeaders(const PutOptions& opts) const;
  Status DeleteBatch(const std::vector<std::string>& keys);

  std::shared_ptr<S3Client> client_;
  Tuning tuning_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> putting_;  // keys with a no-overwrite Put in flight; guarded by mu_
};

// Go's time.RFC3339Nano of a millisecond time: "2023-11-14T22:13:20.123Z", "...:20Z".
std::string FormatRfc3339Nano(int64_t unix_ms);

}  // namespace walship::storage::s3
