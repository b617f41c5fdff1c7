#include <stdlib.h>

#include <cstdlib>
#include <optional>

#include "backend.h"
#include "base/file.h"
#include "storage/file_store.h"
#include "storage/mem_store.h"
#include "storage/s3/emulator_for_test.h"
#include "storage/s3/s3_store.h"

namespace walship::contract {
namespace {

class MemBackend final : public BackendFactory {
 public:
  std::string Name() const override { return "Mem"; }
  Result<std::shared_ptr<storage::ObjectStore>> NewStore() override {
    return std::shared_ptr<storage::ObjectStore>(std::make_shared<storage::MemStore>());
  }
};

// Each test gets its own directory under $TMPDIR (or /tmp), removed afterwards.
class FileBackend final : public BackendFactory {
  bool HasServerSideCopy() const override { return false; }
 public:
  std::string Name() const override { return "File"; }

  Result<std::shared_ptr<storage::ObjectStore>> NewStore() override {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/walship-contract-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return ErrnoStatus("mkdtemp", tmpl, errno);
    dir_ = tmpl;
    // A subdirectory that does not exist yet: Create must make it.
    WALSHIP_ASSIGN_OR_RETURN(auto store, storage::FileStore::Create(dir_ + "/replica"));
    return std::shared_ptr<storage::ObjectStore>(std::move(store));
  }

  void DestroyStore() override {
    if (!dir_.empty()) RemoveTree(dir_).IgnoreError();
    dir_.clear();
  }

 private:
  std::string dir_;
};

// --- S3 emulators on loopback (storage/s3/emulator_for_test.h) ---------

// Forwards to a store, retrying Delete on retryable errors: s3rver's
// DeleteObjects deletes keys concurrently and races on removing the emptied
// directory (ENOENT -> 500 InternalError). In production the retry decorator
// does this; the contract suite runs backends bare.
class DeleteRetryingStore final : public storage::ObjectStore {
 public:
  explicit DeleteRetryingStore(std::shared_ptr<storage::ObjectStore> base) : base_(std::move(base)) {}
  std::string Describe() const override { return base_->Describe(); }
  Status Put(const std::string& key, Source* body, uint64_t size, const storage::PutOptions& opts) override {
    return base_->Put(key, body, size, opts);
  }
  Result<std::unique_ptr<Source>> Open(const std::string& key, uint64_t offset,
                                       std::optional<uint64_t> length) override {
    return base_->Open(key, offset, length);
  }
  Result<storage::ObjectInfo> Head(const std::string& key) override { return base_->Head(key); }
  Result<std::vector<storage::ObjectInfo>> List(const std::string& prefix, const std::string& start_after) override {
    return base_->List(prefix, start_after);
  }
  Status Copy(const std::string& src, const std::string& dst, const storage::PutOptions& opts) override {
    return base_->Copy(src, dst, opts);
  }
  Status Delete(const std::vector<std::string>& keys) override {
    Status s = base_->Delete(keys);
    for (int attempt = 0; attempt < 5 && !s.ok() && s.retryable(); attempt++) s = base_->Delete(keys);
    return s;
  }

 private:
  std::shared_ptr<storage::ObjectStore> base_;
};

// An S3 emulator started once per process; one bucket per test, payload
// signing on and off alternately. Small parts and read chunks so the
// contract's bigger objects go multipart and reads span several GETs.
class S3EmulatorBackend : public BackendFactory {
 public:
  S3EmulatorBackend(std::string name, storage::s3::S3Emulator::Kind kind) : name_(std::move(name)), kind_(kind) {}
  std::string Name() const override { return name_; }
  bool ListReportsTimestamps() const override { return false; }

  Status SetUp() override {
    WALSHIP_ASSIGN_OR_RETURN(emulator_, storage::s3::S3Emulator::Start(kind_, WALSHIP_SOURCE_DIR));
    return Status::OK();
  }
  void TearDown() override { emulator_.reset(); }

  Result<std::shared_ptr<storage::ObjectStore>> NewStore() override {
    namespace s3 = storage::s3;
    buckets_++;
    WALSHIP_ASSIGN_OR_RETURN(auto client, emulator_->NewBucket("walship-" + std::to_string(buckets_), buckets_ % 2 == 0));
    s3::S3Store::Tuning t;
    t.part_size = 256 << 10;
    t.concurrency = 3;
    t.read_chunk = 64 << 10;
    // moto honours If-None-Match: *, so only the server guards no-overwrite
    // Puts there (as on AWS); s3rver ignores it and needs the HEAD check.
    t.check_before_put = false;
    std::shared_ptr<storage::ObjectStore> store = std::make_shared<s3::S3Store>(client, t);
    if (kind_ == s3::S3Emulator::Kind::kS3rver) {
      t.check_before_put = true;
      // Else each read of an empty object waits 5 s (emulator_for_test.h).
      t.head_before_get = true;
      store = std::make_shared<DeleteRetryingStore>(std::make_shared<s3::S3Store>(client, t));
    }
    return store;
  }

 private:
  std::string name_;
  storage::s3::S3Emulator::Kind kind_;
  std::unique_ptr<storage::s3::S3Emulator> emulator_;
  int buckets_ = 0;
};

}  // namespace

const std::vector<BackendFactory*>& AllBackends() {
  static MemBackend mem;
  static FileBackend file;
  static S3EmulatorBackend moto("S3Moto", storage::s3::S3Emulator::Kind::kMoto);
  static S3EmulatorBackend s3rver("S3rver", storage::s3::S3Emulator::Kind::kS3rver);
  static const std::vector<BackendFactory*> backends = {&mem, &file, &moto, &s3rver};
  return backends;
}

}  // namespace walship::contract
