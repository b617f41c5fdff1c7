#pragma once
// POSIX file wrappers. Every durable local write goes: temp file, write,
// fsync, close, rename, fsync the directory (WriteFileAtomic / AtomicFile).
// Errors name the operation and path; ENOSPC maps to Code::kNoSpace.

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace walship {

// A move-only owned file descriptor. Close() reports close errors.
class File {
 public:
  File() = default;
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~File();
  File(File&& o) noexcept;
  File& operator=(File&& o) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  static Result<File> OpenRead(const std::string& path);
  // O_RDWR|O_CREAT (no O_TRUNC), mode 0644 (umask applies).
  static Result<File> OpenWrite(const std::string& path, bool truncate = true, int mode = 0644);

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Reads exactly n bytes at off. Short read -> kOutOfRange ("short read").
  Status PReadFull(void* buf, size_t n, uint64_t off) const;
  // Reads up to n bytes at off; returns bytes read (0 at EOF).
  Result<size_t> PRead(void* buf, size_t n, uint64_t off) const;
  Status PWriteFull(const void* buf, size_t n, uint64_t off);
  Status Append(const void* buf, size_t n);  // write(2) at current offset
  Status Sync();
  Status Truncate(uint64_t size);
  Result<uint64_t> Size() const;
  Status Close();

 private:
  int fd_ = -1;
  std::string path_;
};

Result<std::string> ReadFileToString(const std::string& path);
bool FileExists(const std::string& path);
Result<uint64_t> FileSize(const std::string& path);  // kNotFound if missing
Status FsyncDir(const std::string& dir);
Status MakeDirs(const std::string& dir, int mode = 0755);
Status RemoveFile(const std::string& path);           // ok if missing
Status RemoveTree(const std::string& path);           // ok if missing
Status RenameFile(const std::string& from, const std::string& to);
// Lists the names (not paths) in dir, sorted. Missing dir -> empty list.
Result<std::vector<std::string>> ListDir(const std::string& dir);
std::string DirName(std::string_view path);
std::string BaseName(std::string_view path);
std::string JoinPath(std::string_view a, std::string_view b);
// Makes path absolute against the current directory (no symlink resolution).
std::string AbsPath(std::string_view path);
// Sets the file's mtime (and atime) to ms since the epoch.
Status SetMtimeMs(const std::string& path, int64_t ms);
Result<int64_t> MtimeMs(const std::string& path);

// Writes data durably to path: path.tmp, fsync, rename, fsync(dir).
Status WriteFileAtomic(const std::string& path, std::string_view data);

// Streams a file into place durably. Writes go to `<path>.tmp`; Commit() fsyncs,
// renames and fsyncs the directory; destruction without Commit() removes the temp.
class AtomicFile {
 public:
  static Result<AtomicFile> Create(const std::string& path);
  AtomicFile(AtomicFile&&) noexcept = default;
  AtomicFile& operator=(AtomicFile&&) noexcept = default;
  ~AtomicFile();

  File& file() { return file_; }
  const std::string& tmp_path() const { return tmp_; }
  Status Append(const void* buf, size_t n) { return file_.Append(buf, n); }
  // If no_clobber, fails with kAlreadyExists rather than replacing an existing file.
  Status Commit(bool no_clobber = false);

 private:
  AtomicFile(File f, std::string path, std::string tmp)
      : file_(std::move(f)), path_(std::move(path)), tmp_(std::move(tmp)) {}
  File file_;
  std::string path_;
  std::string tmp_;
  bool committed_ = false;
};

}  // namespace walship
