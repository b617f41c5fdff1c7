#pragma once
// A directory as an ObjectStore. Key "a/b/c" is file <root>/a/b/c.
//
// Put: write <path>.tmp (or <path>.<pid>.<n>.tmp when a concurrent writer holds
// that name), set its mtime to the timestamp, fsync, then link(2) into place
// when no_overwrite (so an existing object is never replaced) or rename(2)
// otherwise, and fsync the directory (and any directories Put created). The
// object appears whole and already carrying its timestamp. A failing or short
// body leaves nothing behind (kInvalidArgument for a short body).
//
// Keys must be relative '/'-separated names without empty, "." or ".."
// segments and must not end in ".tmp" (reserved for temp files):
// kInvalidArgument otherwise. A key cannot be both an object and a "directory"
// of other keys ("a" and "a/b"): the second Put fails with kIOError.
//
// List walks only the directory part of the prefix, skips "*.tmp" files,
// symbolic links and anything not a regular file, and sorts keys bytewise.
// Stray "*.tmp" files under root are removed by CleanTemp() (called by
// Create); note that this also removes temp files of a Put in progress in
// another process, which then fails (and is retried) rather than corrupting.
//
// Thread-safe: no mutable state; the file system arbitrates.

#include <string>
#include <string_view>

#include "storage/object_store.h"

namespace walship::storage {

class FileStore final : public ObjectStore {
 public:
  // Creates root if missing, then removes stray temp files under it.
  // Temp files are removed only once their ctime is older than
  // stale_temp_seconds: another process may be writing a fresh one.
  static Result<std::unique_ptr<FileStore>> Create(const std::string& root, int64_t stale_temp_seconds = 600);

  std::string Describe() const override { return "file://" + root_; }
  Status Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) override;
  // Same defaults as ObjectStore, so calls through the concrete type may omit them.
  Result<std::unique_ptr<Source>> Open(const std::string& key, uint64_t offset = 0,
                                       std::optional<uint64_t> length = std::nullopt) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after = "") override;
  Status Delete(const std::vector<std::string>& keys) override;

  Status CleanTemp();
  const std::string& root() const { return root_; }

 private:
  FileStore(std::string root, int64_t stale) : root_(std::move(root)), stale_temp_seconds_(stale) {}
  Result<std::string> PathOf(const std::string& key) const;  // rejects "..", absolute keys
  Status Walk(const std::string& dir, std::string_view name_prefix, const std::string& start_after,
              std::vector<ObjectInfo>* out) const;
  Status CleanTempIn(const std::string& path) const;
  std::string root_;
  int64_t stale_temp_seconds_;
};

}  // namespace walship::storage
