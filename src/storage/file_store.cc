#include "storage/file_store.h"

#include <ctime>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <set>

#include "base/file.h"

namespace walship::storage {
namespace {

constexpr std::string_view kTmpSuffix = ".tmp";
constexpr size_t kCopyBufferSize = 256 * 1024;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Missing file, or a path component that is a regular file: no such object.
bool IsMissing(int err) { return err == ENOENT || err == ENOTDIR; }

int64_t StatMtimeMs(const struct stat& st) { return int64_t(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000; }

// Every key below the directory key prefix `dir` sorts at or before
// `start_after` (so a listing can skip the subtree).
bool SubtreeBelow(const std::string& dir, const std::string& start_after) {
  return !start_after.empty() && start_after > dir && start_after.compare(0, dir.size(), dir) != 0;
}

// Validates a '/'-separated relative name: no leading '/', no empty, "." or
// ".." segments, no NUL. `allow_trailing_slash` admits "a/b/" (a directory).
bool IsCleanRelative(std::string_view s, bool allow_trailing_slash) {
  if (s.empty() || s.front() == '/' || s.find('\0') != std::string_view::npos) return false;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find('/', i);
    if (j == std::string_view::npos) j = s.size();
    std::string_view seg = s.substr(i, j - i);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (j == s.size() - 1 && allow_trailing_slash) return true;
    i = j + 1;
  }
  return s.back() != '/';
}

// Opens a fresh temp file beside `path`: `<path>.tmp`, or a unique
// `<path>.<pid>.<n>.tmp` when that name is taken by a concurrent writer.
Result<File> CreateTemp(const std::string& path, std::string* tmp) {
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0; attempt < 100; attempt++) {
    *tmp = attempt == 0
               ? path + std::string(kTmpSuffix)
               : path + "." + std::to_string(::getpid()) + "." + std::to_string(counter++) + std::string(kTmpSuffix);
    int fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) return File(fd, *tmp);
    if (errno != EEXIST) return ErrnoStatus("create", *tmp, errno);
  }
  return IOError("create temp file for " + path + ": too many concurrent writers");
}

// Removes the temp file on scope exit unless released.
class TempGuard {
 public:
  explicit TempGuard(const std::string* path) : path_(path) {}
  ~TempGuard() {
    if (path_ != nullptr) ::unlink(path_->c_str());
  }
  TempGuard(const TempGuard&) = delete;
  TempGuard& operator=(const TempGuard&) = delete;
  void Release() { path_ = nullptr; }

 private:
  const std::string* path_;
};

Status SetFileMtimeMs(const File& f, int64_t ms) {
  int64_t sec = ms / 1000;
  int64_t rem = ms % 1000;
  if (rem < 0) {  // floor for times before the epoch
    rem += 1000;
    sec -= 1;
  }
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = time_t(sec);
  ts[0].tv_nsec = ts[1].tv_nsec = long(rem * 1000000);
  if (::futimens(f.fd(), ts) != 0) return ErrnoStatus("set mtime", f.path(), errno);
  return Status::OK();
}

// Copies exactly `size` bytes from body to f.
Status CopyBody(Source* body, uint64_t size, File* f) {
  std::unique_ptr<char[]> buf(new char[kCopyBufferSize]);
  uint64_t done = 0;
  while (done < size) {
    size_t want = size_t(std::min<uint64_t>(kCopyBufferSize, size - done));
    WALSHIP_ASSIGN_OR_RETURN(size_t got, body->Read(buf.get(), want));
    if (got == 0) {
      return InvalidArgument("body ended after " + std::to_string(done) + " of " + std::to_string(size) + " bytes");
    }
    WALSHIP_RETURN_IF_ERROR(f->Append(buf.get(), got));
    done += got;
  }
  return Status::OK();
}

struct DirStream {
  explicit DirStream(DIR* d) : d_(d) {}
  ~DirStream() {
    if (d_ != nullptr) ::closedir(d_);
  }
  DirStream(const DirStream&) = delete;
  DirStream& operator=(const DirStream&) = delete;
  DIR* d_;
};

}  // namespace

Result<std::unique_ptr<FileStore>> FileStore::Create(const std::string& root, int64_t stale_temp_seconds) {
  if (root.empty()) return InvalidArgument("file store: empty root directory");
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  WALSHIP_RETURN_IF_ERROR_CTX(MakeDirs(r), "file store");
  std::unique_ptr<FileStore> store(new FileStore(std::move(r), stale_temp_seconds));
  WALSHIP_RETURN_IF_ERROR(store->CleanTemp());
  return store;
}

Result<std::string> FileStore::PathOf(const std::string& key) const {
  if (!IsCleanRelative(key, /*allow_trailing_slash=*/false)) {
    return InvalidArgument("file store: invalid key \"" + key +
                           "\" (must be relative, without empty, \".\" or \"..\" segments)");
  }
  if (EndsWith(key, kTmpSuffix)) {
    return InvalidArgument("file store: invalid key \"" + key + "\" (\".tmp\" names are reserved)");
  }
  return JoinPath(root_, key);
}

Status FileStore::Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) {
  const std::string ctx = "file put " + key;
  WALSHIP_ASSIGN_OR_RETURN(std::string path, PathOf(key));
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) return IOError(ctx + ": " + path + " exists and is not a regular file");
    // Early refusal; link(2) below still decides races.
    if (opts.no_overwrite) return AlreadyExists(ctx + ": object already exists");
  }

  const std::string dir = DirName(path);
  const bool new_dir = !FileExists(dir);
  if (new_dir) WALSHIP_RETURN_IF_ERROR_CTX(MakeDirs(dir), ctx);

  std::string tmp;
  WALSHIP_ASSIGN_OR_RETURN(File f, CreateTemp(path, &tmp));
  TempGuard guard(&tmp);
  WALSHIP_RETURN_IF_ERROR_CTX(CopyBody(body, size, &f), ctx);
  // The timestamp goes on before the object becomes visible, and link/rename
  // keep the inode, so no reader ever sees the upload time instead.
  if (opts.timestamp_ms != 0) WALSHIP_RETURN_IF_ERROR_CTX(SetFileMtimeMs(f, opts.timestamp_ms), ctx);
  WALSHIP_RETURN_IF_ERROR_CTX(f.Sync(), ctx);
  WALSHIP_RETURN_IF_ERROR_CTX(f.Close(), ctx);

  if (opts.no_overwrite) {
    // link(2) fails with EEXIST instead of replacing an object a concurrent
    // writer put in place meanwhile. The guard then removes the temp name.
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      if (err == EEXIST) return AlreadyExists(ctx + ": object already exists");
      return ErrnoStatus("link " + tmp + " to", path, err).WithContext(ctx);
    }
    ::unlink(tmp.c_str());  // before the directory fsync, which then covers both
    guard.Release();
  } else {
    WALSHIP_RETURN_IF_ERROR_CTX(RenameFile(tmp, path), ctx);
    guard.Release();
  }
  WALSHIP_RETURN_IF_ERROR_CTX(FsyncDir(dir), ctx);
  if (new_dir) {
    // Make the directories MakeDirs created durable too.
    for (std::string d = dir; d.size() > root_.size(); d = DirName(d)) {
      WALSHIP_RETURN_IF_ERROR_CTX(FsyncDir(DirName(d)), ctx);
    }
  }
  return Status::OK();
}

Result<std::unique_ptr<Source>> FileStore::Open(const std::string& key, uint64_t offset,
                                                std::optional<uint64_t> length) {
  WALSHIP_ASSIGN_OR_RETURN(std::string path, PathOf(key));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (IsMissing(err)) return NotFound("file get " + key + ": no such object");
    return ErrnoStatus("open", path, err).WithContext("file get " + key);
  }
  File f(fd, path);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus("stat", path, errno).WithContext("file get " + key);
  if (!S_ISREG(st.st_mode)) return NotFound("file get " + key + ": no such object");
  return std::unique_ptr<Source>(std::make_unique<FileSource>(std::move(f), offset, length.value_or(UINT64_MAX)));
}

Result<ObjectInfo> FileStore::Head(const std::string& key) {
  WALSHIP_ASSIGN_OR_RETURN(std::string path, PathOf(key));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (IsMissing(err)) return NotFound("file head " + key + ": no such object");
    return ErrnoStatus("stat", path, err).WithContext("file head " + key);
  }
  if (!S_ISREG(st.st_mode)) return NotFound("file head " + key + ": no such object");
  return ObjectInfo{key, uint64_t(st.st_size), StatMtimeMs(st)};
}

// Appends the objects under directory key prefix `dir` ("" or "a/b/") whose
// names start with `name_prefix` and whose keys sort after start_after.
// Symbolic links and "*.tmp" files are not objects.
Status FileStore::Walk(const std::string& dir, std::string_view name_prefix, const std::string& start_after,
                       std::vector<ObjectInfo>* out) const {
  const std::string path = dir.empty() ? root_ : JoinPath(root_, dir);
  DirStream ds(::opendir(path.c_str()));
  if (ds.d_ == nullptr) {
    if (IsMissing(errno)) return Status::OK();
    return ErrnoStatus("list", path, errno);
  }
  while (struct dirent* e = ::readdir(ds.d_)) {
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || name.substr(0, name_prefix.size()) != name_prefix) continue;
    const std::string key = dir + std::string(name);
    struct stat st;
    if (::fstatat(::dirfd(ds.d_), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed meanwhile
      return ErrnoStatus("stat", JoinPath(path, name), errno);
    }
    if (S_ISDIR(st.st_mode)) {
      const std::string sub = key + "/";
      if (SubtreeBelow(sub, start_after)) continue;
      WALSHIP_RETURN_IF_ERROR(Walk(sub, "", start_after, out));
    } else if (S_ISREG(st.st_mode) && !EndsWith(name, kTmpSuffix) && key > start_after) {
      out->push_back(ObjectInfo{key, uint64_t(st.st_size), StatMtimeMs(st)});
    }
  }
  return Status::OK();
}

Result<std::vector<ObjectInfo>> FileStore::List(const std::string& prefix, const std::string& start_after) {
  std::vector<ObjectInfo> out;
  const size_t slash = prefix.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : prefix.substr(0, slash + 1);
  // A prefix whose directory part no valid key can have matches nothing.
  if (!dir.empty() && !IsCleanRelative(dir, /*allow_trailing_slash=*/true)) return out;
  if (!dir.empty() && SubtreeBelow(dir, start_after)) return out;
  const std::string_view name_prefix = std::string_view(prefix).substr(dir.size());
  WALSHIP_RETURN_IF_ERROR_CTX(Walk(dir, name_prefix, start_after, &out), "file list " + prefix);
  // Directory order is not key order ("a-b/x" < "a/x" bytewise): sort the keys.
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status FileStore::Delete(const std::vector<std::string>& keys) {
  std::vector<std::string> paths;
  paths.reserve(keys.size());
  for (const std::string& k : keys) {  // validate the whole batch before removing anything
    WALSHIP_ASSIGN_OR_RETURN(std::string p, PathOf(k));
    paths.push_back(std::move(p));
  }
  std::set<std::string> dirs;
  for (const std::string& p : paths) {
    if (::unlink(p.c_str()) != 0) {
      int err = errno;
      // Missing objects are fine; a directory is not an object either.
      if (IsMissing(err) || err == EISDIR) continue;
      return ErrnoStatus("remove", p, err).WithContext("file delete");
    }
    dirs.insert(DirName(p));
  }
  for (const std::string& d : dirs) WALSHIP_RETURN_IF_ERROR_CTX(FsyncDir(d), "file delete");
  return Status::OK();
}

Status FileStore::CleanTemp() { return CleanTempIn(root_); }

Status FileStore::CleanTempIn(const std::string& path) const {
  DirStream ds(::opendir(path.c_str()));
  if (ds.d_ == nullptr) {
    if (IsMissing(errno)) return Status::OK();
    return ErrnoStatus("list", path, errno).WithContext("file store: remove temp files");
  }
  while (struct dirent* e = ::readdir(ds.d_)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(::dirfd(ds.d_), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    const std::string child = JoinPath(path, name);
    if (S_ISDIR(st.st_mode)) {
      WALSHIP_RETURN_IF_ERROR(CleanTempIn(child));
    } else if (S_ISREG(st.st_mode) && EndsWith(name, kTmpSuffix) &&
               int64_t(::time(nullptr)) - int64_t(st.st_ctim.tv_sec) >= stale_temp_seconds_) {
      // Only stale ones: another process (a replicator) may be writing a fresh
      // temp file right now; every write and the final utimes touch its ctime.
      WALSHIP_RETURN_IF_ERROR_CTX(RemoveFile(child), "file store: remove temp files");
    }
  }
  return Status::OK();
}

}  // namespace walship::storage
