#pragma once
// Replica URLs -> ObjectStore + prefix + key layout.
// file:///abs/dir or a plain path (relative ones are made absolute against
// the current directory) -> FileStore(dir), prefix "", layout kFile. The
// directory is created if missing.
// s3://bucket[/prefix][?query] (forms in storage/s3/options.h) -> S3Store,
// prefix per Litestream (path.Clean: "s3://b" -> ".", "s3://b/" -> ""),
// layout kS3. Other schemes (gs://, abs://, ...) are kInvalidArgument until
// their backend is built.

#include <memory>
#include <string>

#include "storage/object_store.h"
#include "storage/s3/options.h"

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

using S3Options = s3::S3Options;
// The config-file path: an S3 replica from explicit options (prefix used as
// given). Applies provider defaults by endpoint host (Tigris: consistent
// reads header, no Content-MD5) and resolves credentials (storage/s3/credentials.h).
// kInvalidArgument for bad options or missing credentials. No network I/O.
Result<OpenedReplica> OpenS3Replica(const S3Options& opts);

}  // namespace walship::storage
