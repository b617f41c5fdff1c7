#pragma once
// Replica URLs -> ObjectStore + prefix + key layout.
// file:///abs/dir or a plain path (relative ones are made absolute against
// the current directory) -> FileStore(dir), prefix "", layout kFile. The
// directory is created if missing. Other schemes (s3://, gs://, ...) are
// kInvalidArgument until their backend is built.

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
// Removes user info ("user:secret@") from a URL's authority; other strings unchanged.
std::string RedactUrl(const std::string& url);
// Errors: kInvalidArgument for a malformed or unsupported URL (the message
// names the problem); file system errors from creating the directory.
Result<OpenedReplica> OpenReplicaUrl(const std::string& url);

}  // namespace walship::storage
