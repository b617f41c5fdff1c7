#include "restore/restore.h"

#include <cstring>
#include <memory>
#include <vector>

#include "base/file.h"
#include "base/io.h"
#include "base/log.h"
#include "ltx/compactor.h"
#include "ltx/format.h"
#include "sqlite/sqlite.h"

namespace walship::restore {

namespace {

// Counts bytes flowing through a Source for progress reporting.
class CountingSource final : public Source {
 public:
  CountingSource(std::unique_ptr<Source> inner, uint64_t* counter, const std::function<void()>* tick)
      : inner_(std::move(inner)), counter_(counter), tick_(tick) {}
  Result<size_t> Read(void* buf, size_t n) override {
    auto r = inner_->Read(buf, n);
    if (r.ok()) {
      *counter_ += *r;
      if (*tick_) (*tick_)();
    }
    return r;
  }

 private:
  std::unique_ptr<Source> inner_;
  uint64_t* counter_;
  const std::function<void()>* tick_;
};

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

Result<RestoreResult> ApplyPlan(const replica::Replica& r, const Plan& plan, const RestoreOptions& opts) {
  if (plan.files.empty() || plan.files[0].min_txid != 1) return Internal("restore plan does not start with a snapshot");
  WALSHIP_RETURN_IF_ERROR(CheckOutput(opts.output, opts.force));
  WALSHIP_RETURN_IF_ERROR(MakeDirs(DirName(opts.output)));

  RestoreResult res;
  res.plan = plan;
  std::function<void()> tick;
  if (opts.progress) tick = [&] { opts.progress(res.bytes_read, plan.bytes); };
  std::vector<std::unique_ptr<Source>> sources;
  std::vector<ltx::MergeInput> inputs;
  for (const auto& f : plan.files) {
    auto src = r.Open(f);
    if (!src.ok()) return src.status().WithContext("restore: open " + f.key);
    sources.push_back(std::make_unique<CountingSource>(std::move(src).value(), &res.bytes_read, &tick));
    inputs.push_back({f.key, sources.back().get()});
  }
  ltx::PageMerger merger(std::move(inputs));
  WALSHIP_RETURN_IF_ERROR_CTX(merger.Init(), "restore");
  const ltx::Header& h = merger.header();
  if (h.min_txid != 1) return Internal("restore: merged files do not form a snapshot");
  res.page_size = h.page_size;

  WALSHIP_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::Create(opts.output));
  {
    FileSink sink(&out.file(), 4 << 20);
    const uint32_t lock = ltx::LockPgno(h.page_size);
    std::vector<uint8_t> zeros(h.page_size, 0);
    uint32_t expect = 1;
    uint32_t pgno;
    const uint8_t* data;
    while (true) {
      auto more = merger.Next(&pgno, &data);
      if (!more.ok()) return more.status().WithContext("restore");
      if (!*more) break;
      if (expect == lock && pgno != lock) {
        WALSHIP_RETURN_IF_ERROR(sink.Write(zeros.data(), zeros.size()));
        expect++;
      }
      if (pgno != expect) {
        return Corruption("restore: page " + std::to_string(expect) + " is missing from the merged files (next is " +
                          std::to_string(pgno) + ")");
      }
      WALSHIP_RETURN_IF_ERROR(sink.Write(data, h.page_size));
      expect++;
    }
    if (expect == lock && h.commit >= lock) {
      WALSHIP_RETURN_IF_ERROR(sink.Write(zeros.data(), zeros.size()));
      expect++;
    }
    if (expect - 1 != h.commit) {
      return Corruption("restore: merged files hold " + std::to_string(expect - 1) + " pages but the database has " +
                        std::to_string(h.commit));
    }
    WALSHIP_RETURN_IF_ERROR(sink.Flush());
  }
  res.pages = h.commit;
  WALSHIP_RETURN_IF_ERROR(out.file().Sync());
  if (opts.integrity != IntegrityCheck::kNone) {
    Status s = sqlite::IntegrityCheck(out.tmp_path(), opts.integrity == IntegrityCheck::kFull, /*immutable=*/true);
    if (!s.ok()) return s.WithContext("restore: integrity check of the restored database failed; nothing was written to " + opts.output);
  }
  if (opts.force) {
    for (const char* s : kSidecars) WALSHIP_RETURN_IF_ERROR(RemoveFile(opts.output + s));
    // An empty or forced output is replaced.
  } else {
    auto size = FileSize(opts.output);
    if (size.ok() && *size == 0) WALSHIP_RETURN_IF_ERROR(RemoveFile(opts.output));
  }
  WALSHIP_RETURN_IF_ERROR(out.Commit(/*no_clobber=*/!opts.force));
  return res;
}

Result<RestoreResult> Restore(const replica::Replica& r, const RestoreOptions& opts) {
  WALSHIP_RETURN_IF_ERROR(CheckOutput(opts.output, opts.force));
  WALSHIP_ASSIGN_OR_RETURN(Plan plan, PlanRestore(r, opts.point));
  return ApplyPlan(r, plan, opts);
}

}  // namespace walship::restore
