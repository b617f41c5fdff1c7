#include "restore/restore.h"

#include <unistd.h>

#include <cerrno>
#include <string>

#include "base/file.h"
#include "base/log.h"
#include "restore/apply.h"
#include "sqlite/sqlite.h"

namespace walship::restore {

namespace {

const char* kSidecars[] = {"-wal", "-shm", "-journal"};

}  // namespace

Status CheckOutput(const std::string& output, bool force) {
  if (force) return Status::OK();
  auto size = FileSize(output);
  if (size.ok() && *size > 0) {
    return AlreadyExists("output " + output + " already exists (use -force to replace it)");
  }
  for (const char* s : kSidecars) {
    if (FileExists(output + s)) {
      return AlreadyExists("output " + output + " has a stale " + output + s +
                           " that SQLite would apply to the restored database (remove it or use -force)");
    }
  }
  return Status::OK();
}

std::string TempPath(const std::string& output) { return output + ".walship-restore"; }
std::string JournalPath(const std::string& output) { return TempPath(output) + ".json"; }

namespace {

// Whether a partial restore is worth keeping for a rerun (as Keepable in apply.cc).
bool KeepPartial(const Status& s) {
  const Code c = s.code();
  return c == Code::kIOError || c == Code::kNoSpace || c == Code::kUnavailable || c == Code::kCancelled ||
         c == Code::kNotFound;
}

Status Discard(const std::string& tmp, const std::string& journal) {
  Status a = RemoveFile(tmp);
  Status b = RemoveFile(journal);
  return a.ok() ? b : a;
}

// Moves tmp into place: link (no clobber) or rename (force), then fsync the directory.
Status MoveIntoPlace(const std::string& tmp, const std::string& out, bool force) {
  if (!force) {
    if (::link(tmp.c_str(), out.c_str()) != 0) {
      int err = errno;
      if (err == EEXIST) return AlreadyExists("output " + out + " already exists (use -force to replace it)");
      return ErrnoStatus("link " + tmp + " to", out, err);
    }
    WALSHIP_RETURN_IF_ERROR(RemoveFile(tmp));
  } else {
    WALSHIP_RETURN_IF_ERROR(RenameFile(tmp, out));
  }
  return FsyncDir(DirName(out));
}

}  // namespace

Result<RestoreResult> ApplyPlan(const replica::Replica& r, const Plan& plan, const RestoreOptions& opts) {
  if (plan.files.empty() || plan.files[0].min_txid != 1) return Internal("restore plan does not start with a snapshot");
  WALSHIP_RETURN_IF_ERROR(CheckOutput(opts.output, opts.force));
  WALSHIP_RETURN_IF_ERROR(MakeDirs(DirName(opts.output)));
  const std::string tmp = TempPath(opts.output), journal = JournalPath(opts.output);
  if (!opts.resume) WALSHIP_RETURN_IF_ERROR(Discard(tmp, journal));

  auto applied = internal::ApplyToFile(r, plan, opts, tmp, journal);
  if (!applied.ok()) {
    Status s = applied.status();
    if (KeepPartial(s) && opts.resume && FileExists(tmp)) {
      return s.WithContext("partial restore kept at " + tmp + "; rerun the same command to resume");
    }
    Discard(tmp, journal).IgnoreError();
    return s;
  }
  RestoreResult res;
  res.plan = plan;
  res.pages = applied->pages;
  res.page_size = applied->page_size;
  res.bytes_read = applied->bytes_read;
  res.bytes_resumed = applied->bytes_resumed;
  if (opts.integrity != IntegrityCheck::kNone) {
    Status s = sqlite::IntegrityCheck(tmp, opts.integrity == IntegrityCheck::kFull, /*immutable=*/true);
    if (!s.ok()) {
      Discard(tmp, journal).IgnoreError();
      return s.WithContext("restore: integrity check of the restored database failed; nothing was written to " +
                           opts.output);
    }
  }
  if (opts.force) {
    for (const char* s : kSidecars) WALSHIP_RETURN_IF_ERROR(RemoveFile(opts.output + s));
  } else {
    auto size = FileSize(opts.output);
    if (size.ok() && *size == 0) WALSHIP_RETURN_IF_ERROR(RemoveFile(opts.output));
  }
  Status moved = MoveIntoPlace(tmp, opts.output, opts.force);
  if (!moved.ok()) return moved.WithContext("restore: restored database kept at " + tmp);
  WALSHIP_RETURN_IF_ERROR(RemoveFile(journal));
  return res;
}

Result<RestoreResult> Restore(const replica::Replica& r, const RestoreOptions& opts) {
  WALSHIP_RETURN_IF_ERROR(CheckOutput(opts.output, opts.force));
  WALSHIP_ASSIGN_OR_RETURN(Plan plan, PlanRestore(r, opts.point));
  return ApplyPlan(r, plan, opts);
}

}  // namespace walship::restore
