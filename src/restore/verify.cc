#include "restore/verify.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "ltx/decoder.h"
#include "ltx/format.h"

namespace walship::restore {

using replica::LtxFileInfo;

namespace {

std::string Txid(uint64_t t) { return ltx::FormatTxid(t); }

void Add(VerifyReport* rep, std::string key, std::string problem, Code code) {
  rep->problems.push_back(VerifyProblem{std::move(key), std::move(problem), code});
}

bool ValidRange(const LtxFileInfo& f) { return f.min_txid >= 1 && f.max_txid >= f.min_txid; }

// Gaps and overlaps within one level (0..8), files sorted by (min, max).
void CheckLevel(const std::vector<const LtxFileInfo*>& files, VerifyReport* rep) {
  const LtxFileInfo* prev = nullptr;  // the file reaching furthest so far
  for (const LtxFileInfo* f : files) {
    if (prev) {
      if (f->min_txid > prev->max_txid + 1) {
        Add(rep, f->key,
            "gap in the TXID chain at level " + std::to_string(f->level) + ": " +
                (f->min_txid - 1 == prev->max_txid + 1
                     ? "TXID " + Txid(prev->max_txid + 1) + " is missing"
                     : "TXIDs " + Txid(prev->max_txid + 1) + ".." + Txid(f->min_txid - 1) + " are missing") +
                " between " + prev->key + " and " + f->key,
            Code::kFailedPrecondition);
      } else if (f->min_txid <= prev->max_txid) {
        Add(rep, f->key,
            "overlapping TXID range at level " + std::to_string(f->level) + ": " + f->key + " starts at " +
                Txid(f->min_txid) + ", inside " + prev->key + " (" + Txid(prev->min_txid) + ".." +
                Txid(prev->max_txid) + ")",
            Code::kFailedPrecondition);
      }
    }
    if (!prev || f->max_txid > prev->max_txid) prev = f;
  }
}

}  // namespace

bool VerifyReport::HasCode(Code c) const {
  return std::any_of(problems.begin(), problems.end(), [c](const VerifyProblem& p) { return p.code == c; });
}

VerifyReport CheckChain(const std::vector<LtxFileInfo>& all, const std::string& where) {
  VerifyReport rep;
  rep.replica = where;
  std::vector<LtxFileInfo> files;  // with a valid TXID range
  std::map<int, LevelSummary> levels;
  for (const auto& f : all) {
    rep.files++;
    rep.bytes += f.size;
    auto it = levels.try_emplace(f.level, LevelSummary{f.level, 0, 0, f.min_txid, f.max_txid}).first;
    LevelSummary& l = it->second;
    l.files++;
    l.bytes += f.size;
    l.min_txid = std::min(l.min_txid, f.min_txid);
    l.max_txid = std::max(l.max_txid, f.max_txid);
    if (!ValidRange(f)) {
      Add(&rep, f.key, "invalid TXID range in the name (MinTXID must be >= 1 and <= MaxTXID)", Code::kFailedPrecondition);
      continue;
    }
    if (f.level == ltx::kSnapshotLevel && f.min_txid != 1) {
      Add(&rep, f.key,
          "snapshot (level 9) does not start at TXID 1: its name should be " + ltx::FormatFileName(1, f.max_txid),
          Code::kFailedPrecondition);
      continue;  // the planner never uses it
    }
    files.push_back(f);
  }
  for (const auto& [level, l] : levels) rep.levels.push_back(l);

  // Contiguity per level.
  for (int level = 0; level < ltx::kSnapshotLevel; level++) {
    std::vector<const LtxFileInfo*> lv;
    for (const auto& f : files) {
      if (f.level == level) lv.push_back(&f);
    }
    std::sort(lv.begin(), lv.end(), [](const LtxFileInfo* a, const LtxFileInfo* b) {
      return a->min_txid != b->min_txid ? a->min_txid < b->min_txid : a->max_txid < b->max_txid;
    });
    CheckLevel(lv, &rep);
  }

  rep.window = CalcWindow(files);
  if (!rep.window) {
    if (!files.empty()) {
      Add(&rep, where, "no snapshot: no file starts at TXID 1, nothing can be restored", Code::kFailedPrecondition);
    }
    return rep;
  }

  // Restore points the planner reaches: a file extends a reachable point r
  // when MinTXID-1 <= r < MaxTXID (compat 5.2); 0 stands for "nothing yet",
  // from which only files starting at TXID 1 apply. Processed by MaxTXID, as a
  // file only ever extends points below its end.
  std::vector<const LtxFileInfo*> by_max;
  for (const auto& f : files) by_max.push_back(&f);
  std::stable_sort(by_max.begin(), by_max.end(), [](const LtxFileInfo* a, const LtxFileInfo* b) {
    return a->max_txid < b->max_txid;
  });
  std::set<uint64_t> reach = {0};
  std::map<uint64_t, int64_t> reach_ms;  // earliest creation time of a file ending at a reachable point
  for (size_t i = 0; i < by_max.size(); i++) {
    const LtxFileInfo& f = *by_max[i];
    auto it = reach.lower_bound(f.min_txid - 1);
    if (it != reach.end() && *it < f.max_txid) {
      reach.insert(f.max_txid);
      auto m = reach_ms.find(f.max_txid);
      if (m == reach_ms.end() || f.created_ms < m->second) reach_ms[f.max_txid] = f.created_ms;
    }
  }
  // Reachable files chain from TXID 1, so together they cover 1..M, M the
  // furthest reachable point: a file ending at or before M is restorable or
  // inside a compacted range (L0 retention leaves such files). Files ending
  // after M are cut off from every snapshot: one problem for all of them,
  // naming the file where the chain breaks.
  const uint64_t reach_max = *reach.rbegin();
  rep.reachable_txid = reach_max;
  bool reach_problem = false;
  const LtxFileInfo* next = nullptr;
  uint64_t cut = 0, cut_first = 0, cut_last = 0;
  for (size_t i = 0; i < by_max.size(); i++) {
    const LtxFileInfo& f = *by_max[i];
    if (f.max_txid <= reach_max || f.max_txid <= rep.window->first_txid) continue;
    if (!cut) cut_first = f.max_txid;
    cut++;
    cut_last = f.max_txid;
    if (!next || f.min_txid < next->min_txid) next = &f;
  }
  if (next) {
    std::string what = cut == 1 ? "restore point TXID " + Txid(cut_first)
                                : "restore points TXID " + Txid(cut_first) + ".." + Txid(cut_last) + " (" +
                                      std::to_string(cut) + " files)";
    Add(&rep, next->key,
        what + " cannot be reached from any snapshot: nothing continues the TXID chain after TXID " +
            Txid(reach_max) + " (the last restorable point); the next file " + next->key + " starts at TXID " +
            Txid(next->min_txid),
        Code::kFailedPrecondition);
    reach_problem = true;
  }
  // The planner itself must reach the latest point.
  auto plan = CalcPlan(files, Point{}, where);
  if (!plan.ok() && !reach_problem) {
    const LtxFileInfo* newest = by_max.back();
    Add(&rep, newest->key, "the latest point cannot be restored: " + plan.status().message(), plan.status().code());
  }

  // The per-transaction range: the contiguous run of L0 files ending at the
  // latest point, from its first reachable file.
  if (reach_max < rep.window->last_txid) return rep;  // no exact range up to the latest point
  rep.exact_from_txid = rep.window->last_txid;
  rep.exact_from_ms = rep.window->last_ms;
  std::vector<const LtxFileInfo*> l0;
  for (const auto& f : files) {
    if (f.level == 0) l0.push_back(&f);
  }
  std::sort(l0.begin(), l0.end(), [](const LtxFileInfo* a, const LtxFileInfo* b) {
    return a->min_txid != b->min_txid ? a->min_txid < b->min_txid : a->max_txid < b->max_txid;
  });
  if (!l0.empty() && l0.back()->max_txid == rep.window->last_txid && reach.count(l0.back()->max_txid)) {
    size_t start = l0.size() - 1;
    while (start > 0 && l0[start - 1]->max_txid + 1 == l0[start]->min_txid) start--;
    size_t k = start;
    while (!reach.count(l0[k]->max_txid)) k++;  // terminates: the last one is reachable
    uint64_t from = l0[k]->max_txid;
    if (l0[k]->min_txid > 1 && reach.count(l0[k]->min_txid - 1)) from = l0[k]->min_txid - 1;
    rep.exact_from_txid = from;
    rep.exact_from_ms = reach_ms[from];
  }
  return rep;
}

namespace {

struct Shared {
  std::atomic<uint64_t> done{0};
  uint64_t total = 0;
  std::mutex mu;  // serialises the progress callback
  const std::function<void(uint64_t, uint64_t)>* progress = nullptr;

  void Advance(uint64_t n) {
    done.fetch_add(n);
    if (progress && *progress) {
      std::lock_guard<std::mutex> lock(mu);
      (*progress)(done.load(), total);  // read under the lock: callers see it grow
    }
  }
};

class CountingSource final : public Source {
 public:
  CountingSource(Source* src, Shared* shared) : src_(src), shared_(shared) {}
  Result<size_t> Read(void* buf, size_t n) override {
    auto r = src_->Read(buf, n);
    if (r.ok() && *r > 0) {
      read_ += *r;
      shared_->Advance(*r);
    }
    return r;
  }
  uint64_t read() const { return read_; }

 private:
  Source* src_;
  Shared* shared_;
  uint64_t read_ = 0;
};

struct FileResult {
  std::vector<VerifyProblem> problems;
  uint32_t page_size = 0;  // 0: header not read
  int64_t timestamp_ms = 0;
  bool vanished = false;
  uint64_t read = 0;
};

FileResult CheckFile(const replica::Replica& r, const LtxFileInfo& f, Shared* shared) {
  FileResult res;
  auto problem = [&](std::string msg, Code code) { res.problems.push_back(VerifyProblem{f.key, std::move(msg), code}); };
  if (f.size < ltx::kHeaderSize) {
    problem("object is " + std::to_string(f.size) + " bytes, smaller than an LTX header (" +
                std::to_string(ltx::kHeaderSize) + " bytes)",
            Code::kCorruption);
    shared->Advance(f.size);
    return res;
  }
  auto src = r.Open(f);
  if (!src.ok()) {
    if (src.status().code() == Code::kNotFound) {
      res.vanished = true;
      shared->Advance(f.size);
      return res;
    }
    problem("cannot read: " + src.status().message(), src.status().code());
    shared->Advance(f.size);
    return res;
  }
  CountingSource counting(src->get(), shared);
  ltx::Decoder d(&counting);
  d.set_keep_page_index(false);
  auto finish = [&](const Status& s) {
    res.read = counting.read();
    if (res.read < f.size) shared->Advance(f.size - res.read);  // keep the total honest
    if (!s.ok()) {
      problem(s.code() == Code::kCorruption ? "corrupt LTX file: " + s.message() : "cannot read: " + s.message(),
              s.code());
    }
  };
  Status s = d.DecodeHeader();
  if (!s.ok()) {
    finish(s);
    return res;
  }
  const ltx::Header& h = d.header();
  res.page_size = h.page_size;
  res.timestamp_ms = h.timestamp_ms;
  if (h.min_txid != f.min_txid || h.max_txid != f.max_txid) {
    problem("header TXIDs " + Txid(h.min_txid) + ".." + Txid(h.max_txid) + " do not match the name " +
                ltx::FormatFileName(f.min_txid, f.max_txid),
            Code::kCorruption);
  }
  std::vector<uint8_t> page(h.page_size);
  while (true) {
    uint32_t pgno = 0;
    auto more = d.NextPage(&pgno, page.data());
    if (!more.ok()) {
      finish(more.status());
      return res;
    }
    if (!*more) break;
  }
  s = d.Close();
  finish(s);
  if (s.ok() && d.bytes_read() != f.size) {
    problem("listed as " + std::to_string(f.size) + " bytes but " + std::to_string(d.bytes_read()) + " were read",
            Code::kCorruption);
  }
  return res;
}

}  // namespace

Result<VerifyReport> Verify(const replica::Replica& r, const VerifyOptions& opts) {
  auto listed = r.ListAll();
  if (!listed.ok()) return listed.status().WithContext("verify: list " + r.Describe());
  std::vector<LtxFileInfo>& files = *listed;
  if (files.empty()) return NotFound("no backups found in " + r.Describe());

  Shared shared;
  for (const auto& f : files) shared.total += f.size;
  shared.progress = &opts.progress;
  std::vector<FileResult> results(files.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < files.size(); i = next++) results[i] = CheckFile(r, files[i], &shared);
  };
  const size_t n = std::min<size_t>(files.size(), size_t(std::max(1, opts.parallelism)));
  {
    std::vector<std::jthread> threads;
    for (size_t t = 1; t < n; t++) threads.emplace_back(work);
    work();
  }
  // The header's timestamp is the capture time; an object store's listing
  // may only know the upload time (whole seconds).
  for (size_t i = 0; i < files.size(); i++) {
    if (results[i].page_size && results[i].timestamp_ms > 0) files[i].created_ms = results[i].timestamp_ms;
  }
  VerifyReport rep = CheckChain(files, r.Describe());

  // The page size most files use (ties: the smaller).
  std::map<uint32_t, uint64_t> sizes;
  for (const auto& fr : results) {
    if (fr.page_size) sizes[fr.page_size]++;
  }
  uint64_t best = 0;
  for (const auto& [ps, count] : sizes) {
    if (count > best) {
      best = count;
      rep.page_size = ps;
    }
  }
  for (size_t i = 0; i < files.size(); i++) {
    FileResult& fr = results[i];
    rep.bytes_read += fr.read;
    if (fr.vanished) rep.vanished++;
    for (auto& p : fr.problems) rep.problems.push_back(std::move(p));
    if (fr.page_size && fr.page_size != rep.page_size) {
      Add(&rep, files[i].key,
          "page size " + std::to_string(fr.page_size) + " differs from " + std::to_string(rep.page_size) +
              ", the page size of " + std::to_string(best) + " of " + std::to_string(files.size()) + " files",
          Code::kFailedPrecondition);
    }
  }
  return rep;
}

}  // namespace walship::restore
