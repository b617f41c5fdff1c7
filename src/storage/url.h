#pragma once
// Replica URLs -> ObjectStore + prefix + key layout.
// file:///abs/dir or a plain path -> FileStore(dir), layout kFile.
// (s3:// comes with the S3 backend.)

#include <memory>
#include <string>

#include "storage/object_store.h"

namespace walship::storage {

enum class KeyLayout {
  kFile,  // <prefix>/ltx/<level decimal>/<min>-<max>.ltx  (file, gs, abs, sftp, ...)
  kS3,    // <prefix>/<level %04x>/<min>-<max>.ltx          (s3, oss)
};

struct OpenedReplica {
  std::shared_ptr<ObjectStore> store;
  std::string prefix;  // "" for the file backend (the root is the replica dir)
  KeyLayout layout = KeyLayout::kFile;
  std::string url;     // as given, secrets removed
};

bool LooksLikeUrl(const std::string& s);  // has "scheme://"
Result<OpenedReplica> OpenReplicaUrl(const std::string& url);

}  // namespace walship::storage
