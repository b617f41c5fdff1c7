#include "replica/replica.h"

#include <algorithm>
#include <cstdio>

#include "base/file.h"
#include "base/parallel.h"
#include "ltx/format.h"

namespace walship::replica {
namespace {

// S3 DeleteObjects takes at most 1000 keys; other backends do not mind.
constexpr size_t kDeleteBatch = 1000;

}  // namespace

Replica::Replica(std::shared_ptr<storage::ObjectStore> store, std::string prefix, storage::KeyLayout layout)
    : store_(std::move(store)), prefix_(std::move(prefix)), layout_(layout) {}

std::string Replica::LevelDir(int level) const {
  if (layout_ == storage::KeyLayout::kS3) {
    // Litestream joins "<prefix>/<%04x>" by hand: an empty prefix yields a
    // leading '/' (compat reference 2.1); the S3 URL parser chooses the prefix.
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%04x", unsigned(level));
    return prefix_ + "/" + buf + "/";
  }
  std::string dir = prefix_.empty() ? "ltx/" : prefix_ + "/ltx/";
  return dir + std::to_string(level) + "/";
}

std::string Replica::Key(int level, uint64_t min_txid, uint64_t max_txid) const {
  return LevelDir(level) + ltx::FormatFileName(min_txid, max_txid);
}

Result<std::vector<LtxFileInfo>> Replica::ListLevel(int level, uint64_t seek) const {
  const std::string dir = LevelDir(level);
  // Names are fixed-width lowercase hex, so key order is TXID order: names
  // with MinTXID < seek sort before "<dir><seek>", which sorts before any
  // name with MinTXID == seek.
  const std::string start_after = seek == 0 ? "" : dir + ltx::FormatTxid(seek);
  auto objs = store_->List(dir, start_after);
  if (!objs.ok()) return objs.status().WithContext("list level " + std::to_string(level));
  std::vector<LtxFileInfo> out;
  out.reserve(objs->size());
  for (storage::ObjectInfo& o : *objs) {
    LtxFileInfo f;
    const std::string_view name = std::string_view(o.key).substr(dir.size());
    if (!ltx::ParseFileName(name, &f.min_txid, &f.max_txid) || f.min_txid < seek) continue;
    f.level = level;
    f.size = o.size;
    f.created_ms = o.mtime_ms;
    f.key = std::move(o.key);
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const LtxFileInfo& a, const LtxFileInfo& b) {
    return a.min_txid != b.min_txid ? a.min_txid < b.min_txid : a.max_txid < b.max_txid;
  });
  return out;
}

Result<std::vector<LtxFileInfo>> Replica::ListAll() const {
  std::vector<LtxFileInfo> out;
  for (int level = 0; level <= ltx::kMaxLevel; level++) {
    WALSHIP_ASSIGN_OR_RETURN(std::vector<LtxFileInfo> files, ListLevel(level));
    out.insert(out.end(), std::make_move_iterator(files.begin()), std::make_move_iterator(files.end()));
  }
  return out;
}

Result<uint64_t> Replica::MaxTxid(int level) const {
  WALSHIP_ASSIGN_OR_RETURN(std::vector<LtxFileInfo> files, ListLevel(level));
  uint64_t max = 0;
  for (const LtxFileInfo& f : files) max = std::max(max, f.max_txid);
  return max;
}

Status Replica::Upload(int level, uint64_t min_txid, uint64_t max_txid, const std::string& local_path,
                       int64_t timestamp_ms, bool absent_per_listing) const {
  const std::string key = Key(level, min_txid, max_txid);
  const std::string ctx = "upload " + key;
  auto file = File::OpenRead(local_path);
  if (!file.ok()) return file.status().WithContext(ctx);
  auto size = file->Size();  // of the open file, not a second lookup by path
  if (!size.ok()) return size.status().WithContext(ctx);
  // Rewindable, so a retrying store can re-send it without buffering it.
  FileSource body(std::move(file).value(), 0, *size);
  storage::PutOptions opts;
  opts.no_overwrite = true;
  opts.timestamp_ms = timestamp_ms;
  opts.absent_per_listing = absent_per_listing;
  return store_->Put(key, &body, *size, opts).WithContext(ctx);
}

Result<std::unique_ptr<Source>> Replica::Open(const LtxFileInfo& f, uint64_t offset) const {
  const std::string key = f.key.empty() ? Key(f.level, f.min_txid, f.max_txid) : f.key;
  auto src = store_->Open(key, offset, std::nullopt);
  if (!src.ok()) return src.status().WithContext("open " + key);
  return src;
}

Status Replica::Delete(const std::vector<LtxFileInfo>& files) const {
  std::vector<std::string> keys;
  for (size_t i = 0; i < files.size(); i++) {
    const LtxFileInfo& f = files[i];
    keys.push_back(f.key.empty() ? Key(f.level, f.min_txid, f.max_txid) : f.key);
    if (keys.size() == kDeleteBatch || i + 1 == files.size()) {
      WALSHIP_RETURN_IF_ERROR_CTX(store_->Delete(keys), "delete " + std::to_string(keys.size()) + " ltx files");
      keys.clear();
    }
  }
  return Status::OK();
}

Status Replica::ResolveCreatedTimes(std::vector<LtxFileInfo>* files, int64_t from_ms, int parallelism) const {
  if (layout_ == storage::KeyLayout::kFile) return Status::OK();
  std::vector<LtxFileInfo*> todo;
  for (auto& f : *files) {
    if (f.created_ms >= from_ms - 1000) todo.push_back(&f);
  }
  // In TXID order, a batch at a time, until a file captured after from_ms:
  // a file's time is its last transaction's (compaction keeps the last
  // input's), so the files after it were captured after from_ms too.
  std::stable_sort(todo.begin(), todo.end(),
                   [](const LtxFileInfo* a, const LtxFileInfo* b) { return a->max_txid < b->max_txid; });
  const size_t batch = size_t(std::max(1, parallelism));
  size_t done = 0;
  while (done < todo.size()) {
    const size_t end = std::min(todo.size(), done + batch);
    WALSHIP_RETURN_IF_ERROR(ParallelFor(end - done, int(batch), [&](size_t k) {
      LtxFileInfo* f = todo[done + k];
      auto head = store_->Head(f->key);
      if (!head.ok()) return head.status().WithContext("head " + f->key);
      f->created_ms = head->mtime_ms;
      return Status::OK();
    }));
    for (size_t i = done; i < end; i++) {
      if (todo[i]->created_ms <= from_ms) continue;
      // Captured after from_ms: so is every file after it, unasked.
      for (size_t j = end; j < todo.size(); j++) todo[j]->created_ms = std::max(todo[j]->created_ms, from_ms + 1);
      return Status::OK();
    }
    done = end;
  }
  return Status::OK();
}

}  // namespace walship::replica
