#include "base/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

namespace walship {

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}
File::File(File&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

Result<File> File::OpenRead(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  return File(fd, path);
}

Result<File> File::OpenWrite(const std::string& path, bool truncate, int mode) {
  int flags = O_RDWR | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : 0);
  int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  return File(fd, path);
}

Result<size_t> File::PRead(void* buf, size_t n, uint64_t off) const {
  size_t done = 0;
  auto* p = static_cast<char*>(buf);
  while (done < n) {
    ssize_t r = ::pread(fd_, p + done, n - done, off_t(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", path_, errno);
    }
    if (r == 0) break;
    done += size_t(r);
  }
  return done;
}

Status File::PReadFull(void* buf, size_t n, uint64_t off) const {
  WALSHIP_ASSIGN_OR_RETURN(size_t got, PRead(buf, n, off));
  if (got != n) {
    return OutOfRange("read " + path_ + ": short read at offset " + std::to_string(off) + " (wanted " +
                      std::to_string(n) + " bytes, got " + std::to_string(got) + ")");
  }
  return Status::OK();
}

Status File::PWriteFull(const void* buf, size_t n, uint64_t off) {
  size_t done = 0;
  auto* p = static_cast<const char*>(buf);
  while (done < n) {
    ssize_t r = ::pwrite(fd_, p + done, n - done, off_t(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", path_, errno);
    }
    done += size_t(r);
  }
  return Status::OK();
}

Status File::Append(const void* buf, size_t n) {
  size_t done = 0;
  auto* p = static_cast<const char*>(buf);
  while (done < n) {
    ssize_t r = ::write(fd_, p + done, n - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", path_, errno);
    }
    done += size_t(r);
  }
  return Status::OK();
}

Status File::Sync() {
  if (::fsync(fd_) != 0) return ErrnoStatus("fsync", path_, errno);
  return Status::OK();
}

Status File::Truncate(uint64_t size) {
  if (::ftruncate(fd_, off_t(size)) != 0) return ErrnoStatus("truncate", path_, errno);
  return Status::OK();
}

Result<uint64_t> File::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return ErrnoStatus("stat", path_, errno);
  return uint64_t(st.st_size);
}

Status File::Close() {
  if (fd_ < 0) return Status::OK();
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return ErrnoStatus("close", path_, errno);
  return Status::OK();
}

Result<std::string> ReadFileToString(const std::string& path) {
  WALSHIP_ASSIGN_OR_RETURN(File f, File::OpenRead(path));
  WALSHIP_ASSIGN_OR_RETURN(uint64_t size, f.Size());
  std::string out(size, '\0');
  WALSHIP_ASSIGN_OR_RETURN(size_t got, f.PRead(out.data(), size, 0));
  out.resize(got);
  return out;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Result<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path, errno);
  return uint64_t(st.st_size);
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open dir", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("fsync dir", dir, err);
  return Status::OK();
}

Status MakeDirs(const std::string& dir, int mode) {
  if (dir.empty()) return Status::OK();
  std::string cur;
  size_t i = 0;
  while (i <= dir.size()) {
    size_t j = dir.find('/', i);
    if (j == std::string::npos) j = dir.size();
    cur = dir.substr(0, j);
    if (!cur.empty() && ::mkdir(cur.c_str(), mode_t(mode)) != 0 && errno != EEXIST) {
      return ErrnoStatus("mkdir", cur, errno);
    }
    i = j + 1;
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return ErrnoStatus("stat", dir, errno);
  if (!S_ISDIR(st.st_mode)) return IOError("mkdir " + dir + ": exists and is not a directory");
  return Status::OK();
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("remove", path, errno);
  return Status::OK();
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return IOError("remove " + path + ": " + ec.message());
  return Status::OK();
}

Status RenameFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus("rename " + from + " to", to, errno);
  return Status::OK();
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return names;
    return ErrnoStatus("list", dir, errno);
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    names.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string DirName(std::string_view path) {
  size_t i = path.rfind('/');
  if (i == std::string_view::npos) return ".";
  if (i == 0) return "/";
  return std::string(path.substr(0, i));
}

std::string BaseName(std::string_view path) {
  size_t i = path.rfind('/');
  return std::string(i == std::string_view::npos ? path : path.substr(i + 1));
}

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  std::string out(a);
  if (out.back() != '/') out += '/';
  out += b;
  return out;
}

std::string AbsPath(std::string_view path) {
  if (!path.empty() && path[0] == '/') return std::filesystem::path(path).lexically_normal().string();
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec);
  return (cwd / std::filesystem::path(path)).lexically_normal().string();
}

Status SetMtimeMs(const std::string& path, int64_t ms) {
  struct timeval tv[2];
  tv[0].tv_sec = tv[1].tv_sec = time_t(ms / 1000);
  tv[0].tv_usec = tv[1].tv_usec = suseconds_t((ms % 1000) * 1000);
  if (::utimes(path.c_str(), tv) != 0) return ErrnoStatus("set mtime", path, errno);
  return Status::OK();
}

Result<int64_t> MtimeMs(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path, errno);
  return int64_t(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

Status WriteFileAtomic(const std::string& path, std::string_view data) {
  WALSHIP_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::Create(path));
  WALSHIP_RETURN_IF_ERROR(f.Append(data.data(), data.size()));
  return f.Commit();
}

Result<AtomicFile> AtomicFile::Create(const std::string& path) {
  std::string tmp = path + ".tmp";
  WALSHIP_ASSIGN_OR_RETURN(File f, File::OpenWrite(tmp, true));
  return AtomicFile(std::move(f), path, std::move(tmp));
}

AtomicFile::~AtomicFile() {
  if (!committed_ && !tmp_.empty()) {
    file_.Close().IgnoreError();
    ::unlink(tmp_.c_str());
  }
}

Status AtomicFile::Commit(bool no_clobber) {
  WALSHIP_RETURN_IF_ERROR(file_.Sync());
  WALSHIP_RETURN_IF_ERROR(file_.Close());
  if (no_clobber) {
    // link(2) fails with EEXIST instead of replacing: all-or-nothing, never overwrite.
    if (::link(tmp_.c_str(), path_.c_str()) != 0) {
      int err = errno;
      if (err == EEXIST) return AlreadyExists("write " + path_ + ": object already exists");
      return ErrnoStatus("link " + tmp_ + " to", path_, err);
    }
    ::unlink(tmp_.c_str());
  } else {
    WALSHIP_RETURN_IF_ERROR(RenameFile(tmp_, path_));
  }
  committed_ = true;
  return FsyncDir(DirName(path_));
}

}  // namespace walship
