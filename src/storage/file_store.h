#pragma once
// A directory as an ObjectStore. Key "a/b/c" is file <root>/a/b/c.
// Put: write <path>.tmp, fsync, link/rename into place (link when
// no_overwrite, so an existing object is never replaced), fsync the directory,
// then set mtime to the timestamp. Stray "*.tmp" files under root are removed
// by CleanTemp() (called by Create). List skips "*.tmp" files.

#include <string>

#include "storage/object_store.h"

namespace walship::storage {

class FileStore final : public ObjectStore {
 public:
  // Creates root if missing.
  static Result<std::unique_ptr<FileStore>> Create(const std::string& root);

  std::string Describe() const override { return "file://" + root_; }
  Status Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) override;
  Result<std::unique_ptr<Source>> Open(const std::string& key, uint64_t offset,
                                       std::optional<uint64_t> length) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after) override;
  Status Delete(const std::vector<std::string>& keys) override;

  Status CleanTemp();
  const std::string& root() const { return root_; }

 private:
  explicit FileStore(std::string root) : root_(std::move(root)) {}
  Result<std::string> PathOf(const std::string& key) const;  // rejects "..", absolute keys
  std::string root_;
};

}  // namespace walship::storage
