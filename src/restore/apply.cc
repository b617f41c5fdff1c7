#include "restore/apply.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <thread>
#include <vector>

#include "base/coding.h"
#include "base/crc64.h"
#include "base/file.h"
#include "base/io.h"
#include "base/log.h"
#include "base/parallel.h"
#include "ltx/decoder.h"
#include "ltx/format.h"
#include "restore/restore.h"

namespace walship::restore::internal {
namespace {

constexpr size_t kTailFetch = 64 * 1024;        // first read of a file's tail (at least)
// A large file's tail is read as about 1/kTailFraction of the file, up to
// kTailFetchMax, so that its page index usually comes with the trailer in one
// request (the index of a snapshot of 4 KiB pages compressed to 2 KiB is
// about 1/200 of the file). Those reads are held at once within
// kTailBudget; beyond it a file's first tail read is kTailFetch bytes.
constexpr uint64_t kTailFraction = 128;
constexpr uint64_t kTailFetchMax = 4 << 20;
constexpr int64_t kTailBudget = 8 << 20;
// Written pages are handed to the kernel's writeback (sync_file_range) in
// spans of this size, so the journal's fdatasync and the final one find
// little left to write.
constexpr uint64_t kWritebackSpan = 8 << 20;
// Shorter runs of contiguous pages (a later file's scattered pages) get no
// hint: one sync_file_range per page queues behind the snapshot's writeback
// and stalls the thread; the journal's and the final fdatasync write them.
constexpr uint64_t kWritebackMin = 256 << 10;
constexpr size_t kStreamBuf = 64 * 1024;        // reads of a long index
constexpr uint64_t kPrefetchMax = 1 << 20;      // chunks below this are fetched into memory before waiting
// Larger chunks of later files are fetched before their turn into a spool
// file (unlinked at once), up to this many bytes in all; past it, after.
constexpr uint64_t kSpoolMax = uint64_t{1} << 30;
constexpr size_t kSpoolBuf = 256 * 1024;
constexpr int kSpoolReads = 1;
constexpr size_t kWriteBuffer = 128 * 1024;     // contiguous pages per pwrite
constexpr size_t kReadBuffer = 128 * 1024;      // frame decoder buffer
constexpr size_t kTailFixed = 8 + ltx::kTrailerSize;
// Files up to kTailFetch bytes are read whole in one request and kept until
// applied, within this budget (the rest are read again per chunk).
constexpr int64_t kSmallFilesBudget = 8 << 20;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Errors after which restore.cc keeps the partial output for a rerun (same list).
bool Keepable(Code c) {
  return c == Code::kIOError || c == Code::kNoSpace || c == Code::kUnavailable || c == Code::kCancelled ||
         c == Code::kNotFound;
}

struct Chunk {
  uint64_t off = 0, len = 0;  // frames [off, off+len) of the file
  uint32_t first_pgno = 0, last_pgno = 0;
  uint32_t frames = 0;
  uint64_t frames_hash = 0;  // CRC over (pgno BE32, size BE64) of each frame, per the index
  // Results, once done.
  bool done = false;
  uint64_t crc = 0;          // CRC of the chunk's share of the file checksum stream
  uint64_t stream_len = 0;   // its length
  uint64_t page_xor = 0;     // XOR of ltx::PageChecksum of its pages
};

constexpr uint64_t kRangesPerFile = 8;
// The snapshot's stream: chunks read ahead and not yet decoded are held
// within this many bytes (at least one chunk).
constexpr uint64_t kStreamAhead = 2 << 20;
// The snapshot's chunks (the stream's unit of decoding) are chunk_bytes, at
// most this: small enough that a few in flight keep every core busy within
// little memory.
constexpr uint64_t kStreamChunkMax = 512 << 10;
constexpr int64_t kIdleWaitMs = 20;

struct FileState {
  const replica::LtxFileInfo* info = nullptr;
  ltx::Header h;
  ltx::Trailer t;
  uint64_t header_crc = 0;
  uint64_t tail_crc = 0, tail_len = 0;  // end marker .. post-apply checksum
  uint64_t suffix_min_commit = UINT32_MAX;  // min Commit of later files
  std::vector<Chunk> chunks;
  size_t remaining = 0;  // chunks not yet done
  std::string whole;     // a small file's bytes, until its chunks are applied
  // The snapshot (file 0, when not small) is read as one stream: its header
  // is the start of one read of the whole object that stays open and feeds
  // its chunks in order (see Span). Dropped if unused.
  bool stream = false;
  std::unique_ptr<Source> lead;
};

// A run [next, end) of the snapshot's chunks read by one sequential read.
// Chunks are claimed one at a time (next++ under mu_); an idle worker may
// split off the upper half of what is unclaimed (end shrinks) and read it
// with a read of its own.
struct Span {
  uint32_t next = 0, end = 0;
  bool owned = false;    // someone reads it
  bool flowing = false;  // its read delivered a chunk
};

// Buffers of one size, reused: the stream's chunks would otherwise cost a
// fresh allocation each (page faults, and zeroing, of every chunk's bytes).
class BufferPool {
 public:
  explicit BufferPool(size_t cap) : cap_(cap) {}
  size_t cap() const { return cap_; }
  std::unique_ptr<uint8_t[]> Get() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!free_.empty()) {
        auto b = std::move(free_.back());
        free_.pop_back();
        return b;
      }
    }
    return std::unique_ptr<uint8_t[]>(new uint8_t[cap_]);  // left uninitialised
  }
  void Put(std::unique_ptr<uint8_t[]> b) {
    std::lock_guard<std::mutex> l(mu_);
    if (b != nullptr && free_.size() < kKeep) free_.push_back(std::move(b));
  }

 private:
  static constexpr size_t kKeep = 8;
  const size_t cap_;
  std::mutex mu_;
  std::vector<std::unique_ptr<uint8_t[]>> free_;
};

// A chunk of the snapshot read ahead by the stream, waiting for a decoder:
// its bytes are buf[0, len), a buffer of the pool.
struct Queued {
  uint32_t chunk = 0;
  std::unique_ptr<uint8_t[]> buf;
  size_t len = 0;
};

bool SameChunk(const Chunk& a, const Chunk& b) {
  return a.off == b.off && a.len == b.len && a.first_pgno == b.first_pgno && a.last_pgno == b.last_pgno &&
         a.frames == b.frames && a.frames_hash == b.frames_hash;
}

// Cuts the snapshot's stream into chunks as it arrives, from the frames'
// headers (ltx::MeasureFrame, nothing decompressed), by the rule ReadIndex
// applies to the page index: a new chunk when the next frame would take the
// current one past the snapshot's chunk size. So the chunks are the index's, and the
// index, which comes at the stream's end, is checked against them there.
// Checks the snapshot's page order on the way (pages 1.. Commit in order,
// the lock page skipped), so a corrupt stream never writes outside the
// database. Reads straight into pool buffers, at most kCutRead at a time; a
// cut copies the bytes read past it (less than a frame and kCutRead) to the
// next buffer.
constexpr size_t kCutRead = 256 << 10;
class StreamCutter {
 public:
  StreamCutter(Source* src, uint32_t page_size, uint32_t commit, uint64_t chunk_bytes, BufferPool* pool)
      : src_(src), page_size_(page_size), commit_(commit), chunk_bytes_(chunk_bytes), pool_(pool),
        buf_(pool->Get()), rest_(this) {}

  // The next chunk (metadata as ReadIndex's) and its bytes, a pool buffer
  // holding *len bytes; false at the end-of-pages marker.
  Result<bool> Next(Chunk* c, std::unique_ptr<uint8_t[]>* out, size_t* len) {
    Chunk cur;
    cur.off = base_;
    Crc64 hash;
    size_t s = 0;
    const uint32_t lock = ltx::LockPgno(page_size_);
    for (;;) {
      if (base_ + s == limit_) {
        if (cur.frames == 0) return Internal("restore: the stream was asked for a chunk past its span");
        break;
      }
      uint32_t pgno = 0;
      Result<uint64_t> m = ltx::MeasureFrame(buf_.get() + s, fill_ - s, page_size_, &pgno);
      if (!m.ok()) return m.status().WithContext("at offset " + std::to_string(base_ + s));
      if (*m == 0) {
        if (fill_ == pool_->cap()) return Internal("restore: a frame does not fit the stream's buffer");
        size_t want = std::min(pool_->cap() - fill_, kCutRead);
        if (limit_ != UINT64_MAX) want = size_t(std::min<uint64_t>(want, limit_ - (base_ + fill_)));
        if (want == 0) return Corruption("a frame crosses offset " + std::to_string(limit_) + ", a chunk's end in the page index");
        WALSHIP_ASSIGN_OR_RETURN(size_t n, src_->Read(buf_.get() + fill_, want));
        if (n == 0) return Corruption("the object ends at offset " + std::to_string(base_ + fill_) + ", inside its frames");
        fill_ += n;
        continue;
      }
      if (pgno == 0 || (cur.frames > 0 && s + *m > chunk_bytes_)) break;
      uint32_t want = prev_ + 1;
      if (want == lock) want++;
      if (pgno != want || pgno > commit_) {
        return Corruption("frame at offset " + std::to_string(base_ + s) + " holds page " + std::to_string(pgno) +
                          ", want page " + std::to_string(want) + " of a snapshot of " + std::to_string(commit_));
      }
      prev_ = pgno;
      if (cur.frames == 0) cur.first_pgno = pgno;
      cur.last_pgno = pgno;
      cur.frames++;
      uint8_t b[12];
      PutBE32(b, pgno);
      PutBE64(b + 4, *m);
      hash.Update(b, sizeof(b));
      s += size_t(*m);
    }
    if (cur.frames == 0) return false;  // at the marker: pos() is its offset
    cur.len = s;
    cur.frames_hash = hash.Sum();
    *c = cur;
    std::unique_ptr<uint8_t[]> next = pool_->Get();
    std::memcpy(next.get(), buf_.get() + s, fill_ - s);
    *out = std::move(buf_);
    *len = s;
    buf_ = std::move(next);
    fill_ -= s;
    base_ += s;
    return true;
  }
  // Where the next frame starts (the end-of-pages marker once Next returned false).
  uint64_t pos() const { return base_; }
  // Reads nothing at or past offset `end` (a chunk's end per the index, where
  // a split made the span end), and cuts there.
  void set_limit(uint64_t end) { limit_ = end; }
  // The stream from pos() on.
  Source* rest() { return &rest_; }

 private:
  class Rest final : public Source {
   public:
    explicit Rest(StreamCutter* c) : c_(c) {}
    Result<size_t> Read(void* buf, size_t n) override {
      if (at_ < c_->fill_) {
        n = std::min(n, c_->fill_ - at_);
        std::memcpy(buf, c_->buf_.get() + at_, n);
        at_ += n;
        return n;
      }
      return c_->src_->Read(buf, n);
    }

   private:
    StreamCutter* c_;
    size_t at_ = 0;
  };

  Source* src_;
  const uint32_t page_size_, commit_;
  const uint64_t chunk_bytes_;
  BufferPool* pool_;
  std::unique_ptr<uint8_t[]> buf_;  // the stream's bytes [base_, base_ + fill_)
  size_t fill_ = 0;
  uint64_t base_ = ltx::kHeaderSize;
  uint64_t limit_ = UINT64_MAX;
  uint32_t prev_ = 0;
  Rest rest_;
};

// A Source over borrowed bytes.
class SpanSource final : public Source {
 public:
  SpanSource(const char* p, size_t n) : p_(p), n_(n) {}
  Result<size_t> Read(void* buf, size_t n) override {
    n = std::min(n, n_ - pos_);
    std::memcpy(buf, p_ + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  const char* p_;
  size_t n_;
  size_t pos_ = 0;
};

// The next n bytes of a borrowed Source (nothing past them is read).
class LimitSource final : public Source {
 public:
  LimitSource(Source* inner, uint64_t n) : inner_(inner), left_(n) {}
  Result<size_t> Read(void* buf, size_t n) override {
    if (left_ == 0) return size_t{0};
    WALSHIP_ASSIGN_OR_RETURN(size_t got, inner_->Read(buf, size_t(std::min<uint64_t>(n, left_))));
    left_ -= got;
    return got;
  }

 private:
  Source* inner_;
  uint64_t left_;
};

// Reads a whole Source into out.
Status ReadAll(Source* src, std::string* out, uint64_t expect) {
  out->resize(expect);
  size_t got = 0;
  while (got < expect) {
    WALSHIP_ASSIGN_OR_RETURN(size_t n, src->Read(out->data() + got, expect - got));
    if (n == 0) break;
    got += n;
  }
  if (got != expect) return Corruption("short read: " + std::to_string(got) + " of " + std::to_string(expect) + " bytes");
  return Status::OK();
}

class Engine {
 public:
  Engine(const replica::Replica& r, const Plan& plan, const RestoreOptions& opts, std::string tmp, std::string journal)
      : r_(r), plan_(plan), opts_(opts), tmp_path_(std::move(tmp)), journal_path_(std::move(journal)) {}

  Result<ApplyResult> Run();

 private:
  Status ReadHeader(size_t k);
  uint64_t FileChunk(uint64_t size) const;
  // A file's trailer and its page index, as chunks.
  struct IndexInfo {
    std::vector<Chunk> chunks;
    ltx::Trailer t;
    uint64_t tail_crc = 0, tail_len = 0;  // as FileState's
  };
  // Reads file k's trailer and page index: from its tail (one or two ranged
  // reads) or, given `stream` positioned at the end-of-pages marker at
  // marker_at (the snapshot's stream once its frames are cut), from the rest
  // of that stream, which must then end.
  Status ReadIndex(size_t k, Source* stream, uint64_t marker_at, IndexInfo* out);
  void InstallIndex(size_t k, IndexInfo&& info);
  Status AdoptIndex(IndexInfo&& info);
  Status AdoptIndexLocked(IndexInfo&& info, uint64_t* overhead);  // mu_ held
  static uint64_t Overhead(const FileState& f);
  Status CheckTrailer(const FileState& f, const ltx::Trailer& t) const;
  Result<std::unique_ptr<Source>> OpenRange(const std::string& key, uint64_t off, std::optional<uint64_t> len);
  void LoadJournal();
  std::string JournalJson(uint64_t frontier) const;  // mu_ held
  Status WriteJournal(uint64_t frontier);            // flush_mu_ held
  // fdatasync, then records the chunks done before it in the journal.
  // Unless force, nothing happens when nothing was written or done since
  // the last one.
  Status SyncAndRecord(bool force);
  void Flusher();  // the flusher thread: SyncAndRecord by bytes and time
  Status WaitTurn(size_t file);
  void Worker();
  Status DoChunk(size_t file, size_t chunk);
  Status SpoolChunk(size_t file, size_t chunk, std::optional<uint64_t>* at);
  struct Ready {
    uint32_t file = 0, chunk = 0;
    uint64_t spool_off = 0;
  };
  std::vector<Ready>::iterator DueReady();  // mu_ held
  bool TakeReady(Ready* r);                 // mu_ held
  bool ServeOne(std::unique_lock<std::mutex>& l, Status* s);
  // mu_ held, by a waiter on cv_ that leaves without serving: a wake-up it
  // may have taken for a queued or due chunk goes to another waiter.
  void PassOn() {
    if (!queue_.empty() || DueReady() != ready_.end()) cv_.notify_one();
  }
  Status DoReady(const Ready& r);
  // From src, or, with mem, from the chunk's bytes held there (in place).
  Status DecodeChunk(size_t file, size_t chunk, Source* src, const uint8_t* mem = nullptr);
  Status DoQueued(Queued q);
  Status DoSpan(Span* sp);
  void Reader(Span* sp);
  Status FinishStream(StreamCutter* cut, uint32_t chunks);
  Span* UnownedSpan();                 // mu_ held
  Span* TrySplit(int64_t now, bool* load_index);  // mu_ held
  bool SplitPays(uint64_t bytes, int new_reads, int64_t now) const;  // mu_ held
  double StreamRate(int64_t now, double fallback) const;            // mu_ held
  void RestartRateWindow();                                         // mu_ held
  Status LoadIndexForSplit();
  bool SpansExhausted() const;         // mu_ held
  Status FinishChecks();
  void Fail(Status s);
  void AddProgress(uint64_t n);
  void StartWriteback(uint64_t off, uint64_t len);
  void SetBit(uint32_t pgno) {
    bitmap_[(pgno - 1) / 64].fetch_or(uint64_t{1} << ((pgno - 1) % 64), std::memory_order_relaxed);
  }
  bool Bit(uint32_t pgno) const {
    return (bitmap_[(pgno - 1) / 64].load(std::memory_order_relaxed) >> ((pgno - 1) % 64)) & 1;
  }

  const replica::Replica& r_;
  const Plan& plan_;
  const RestoreOptions& opts_;
  std::string tmp_path_, journal_path_;
  uint32_t page_size_ = 0;
  uint32_t final_commit_ = 0;
  uint64_t chunk_bytes_ = 0;
  uint64_t stream_chunk_ = 0;  // the snapshot's chunks: chunk_bytes_, at most kStreamChunkMax
  std::vector<FileState> files_;
  std::unique_ptr<std::atomic<uint64_t>[]> bitmap_;
  std::unique_ptr<Crc64Shift> shift_;
  File out_;

  std::atomic<uint64_t> bytes_read_{0};
  std::atomic<int64_t> small_budget_{kSmallFilesBudget};
  std::atomic<int64_t> tail_budget_{kTailBudget};
  std::atomic<uint64_t> overhead_bytes_{0};  // header, index and trailer bytes of the plan
  std::atomic<uint64_t> progress_done_{0};
  uint64_t bytes_resumed_ = 0;
  std::mutex progress_mu_;
  uint64_t progress_reported_ = 0;  // guarded by progress_mu_

  // Dispatch and ordering.
  std::vector<std::pair<uint32_t, uint32_t>> order_;  // (file, chunk) in plan order
  std::atomic<size_t> next_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // guards chunk results, files_done_, pending_, error_
  // Workers wait on cv_ (every waiter serves the stream's queue and due
  // spooled chunks first, so one queued chunk wakes one of them); the
  // snapshot's reader waits for room on room_cv_. Both with mu_.
  std::condition_variable cv_;
  std::condition_variable room_cv_;
  std::atomic<size_t> files_done_{0};  // leading files whose chunks are all written (changed under mu_)
  Status error_;
  std::vector<std::pair<uint32_t, uint32_t>> pending_;  // done, not yet fdatasync'd
  // Later files' chunks fetched before their turn into the spool (an
  // unlinked file beside the output, so nothing is left behind), applied by
  // any worker once their turn comes: their reads overlap the snapshot's
  // stream without holding memory.
  std::vector<Ready> ready_;  // mu_
  std::mutex spool_mu_;       // opens the spool
  File spool_;                // valid once a chunk was spooled
  bool spool_failed_ = false;  // spool_mu_
  int spool_reads_ = 0;        // mu_
  std::atomic<uint64_t> spool_used_{0};

  // The snapshot's stream (all under mu_): spans of file 0, the chunks its
  // reader read ahead, their bytes (with those being decoded), and when the
  // reader last waited for room.
  std::vector<std::unique_ptr<Span>> spans_;
  // Starting from zero, the snapshot's chunks are cut from its stream as it
  // arrives (StreamCutter), and its index is read at the stream's end, or
  // from its tail when a split needs the chunks ahead first. Until then
  // index_known_ is false, the stream's span has no end, and file 0's
  // `remaining` counts one more (the index still to check).
  bool discover_ = false;
  bool index_known_ = true, index_loading_ = false, stream_at_end_ = false;
  uint64_t stream_pos_ = 0;  // the reader's offset in the snapshot
  std::unique_ptr<BufferPool> pool_;
  std::deque<Queued> queue_;
  uint64_t ahead_bytes_ = 0;
  bool reader_running_ = false, reader_waiting_ = false;
  int64_t reader_waited_ms_ = 0, last_split_ms_ = 0;
  uint64_t splits_ = 0;
  // What a split costs and saves (see SplitPays): how long the snapshot's
  // stream took to bring its first bytes (a new read waits about as long),
  // and the stream's rate since the reader last waited for room.
  int64_t first_byte_ms_ = 0;
  int64_t rate_since_ms_ = 0;
  uint64_t rate_since_pos_ = 0;
  double read_rate_ = 0;  // bytes per ms of one read, as last measured; 0 until then
  // For the debug log's timings: when the run began and the stream ended,
  // and how often the reader waited for the decoders.
  int64_t run_start_ms_ = 0, stream_end_ms_ = 0;
  uint64_t reader_waits_ = 0;
  Status reader_error_;

  // Journal.
  std::mutex sync_mu_;   // one periodic flusher at a time; taken before flush_mu_
  std::mutex flush_mu_;  // serialises journal writes; never held with mu_ across I/O
  bool journal_on_ = false;
  std::atomic<uint64_t> frontier_written_{0};  // written under flush_mu_, read without it
  std::atomic<bool> have_frontier_{false};
  std::vector<std::pair<uint32_t, uint32_t>> synced_;  // recorded chunks (mu_)
  std::atomic<int64_t> last_flush_ms_{0};
  // Bytes written to the output this run, and as of the last fdatasync's
  // start (written under sync_mu_; the flusher reads it without).
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> synced_written_{0};
  uint64_t sync_every_ = 1;  // opts_.sync_every_bytes, at least 1
  Status sync_error_;  // the first fdatasync failure (sync_mu_)
  // The flusher thread's wake-ups: a worker whose write crossed a multiple
  // of sync_every_bytes, or the end of the run.
  std::mutex flusher_mu_;
  std::condition_variable flusher_cv_;
  bool flusher_stop_ = false;  // flusher_mu_
};

void Engine::Fail(Status s) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (error_.ok()) error_ = std::move(s);
    stop_ = true;  // under mu_, so a waiter cannot miss it
  }
  cv_.notify_all();
  room_cv_.notify_all();
}

// Starts writeback of written pages without waiting for it (a hint: the
// fdatasync calls are what make pages durable).
void Engine::StartWriteback(uint64_t off, uint64_t len) {
#if defined(__linux__)
  if (len > 0) ::sync_file_range(out_.fd(), off64_t(off), off64_t(len), SYNC_FILE_RANGE_WRITE);
#else
  (void)off;
  (void)len;
#endif
}

void Engine::AddProgress(uint64_t n) {
  const uint64_t done = progress_done_.fetch_add(n) + n;
  if (!opts_.progress) return;
  std::lock_guard<std::mutex> l(progress_mu_);
  // Two workers may add in one order and get here in the other: report a
  // figure that never goes back.
  progress_reported_ = std::max(progress_reported_, std::min(done, plan_.bytes));
  opts_.progress(progress_reported_, plan_.bytes);
}

// Counts bytes read from the store.
class CountingSource final : public Source {
 public:
  CountingSource(std::unique_ptr<Source> inner, std::atomic<uint64_t>* n) : inner_(std::move(inner)), n_(n) {}
  Result<size_t> Read(void* buf, size_t n) override {
    auto r = inner_->Read(buf, n);
    if (r.ok()) n_->fetch_add(*r, std::memory_order_relaxed);
    return r;
  }

 private:
  std::unique_ptr<Source> inner_;
  std::atomic<uint64_t>* n_;
};

Result<std::unique_ptr<Source>> Engine::OpenRange(const std::string& key, uint64_t off, std::optional<uint64_t> len) {
  WALSHIP_ASSIGN_OR_RETURN(std::unique_ptr<Source> s, r_.store()->Open(key, off, len));
  return std::unique_ptr<Source>(std::make_unique<CountingSource>(std::move(s), &bytes_read_));
}

Status Engine::ReadHeader(size_t k) {
  FileState& f = files_[k];
  const std::string& key = f.info->key;
  auto ctx = [&](const Status& s) { return s.WithContext("restore: " + key); };
  if (f.info->size < ltx::kHeaderSize + ltx::kPageHeaderSize + 1 + kTailFixed) {
    return Corruption("restore: " + key + ": object of " + std::to_string(f.info->size) + " bytes is too small");
  }
  const uint64_t size = f.info->size;
  std::string hb;
  if (size <= kTailFetch && small_budget_.fetch_sub(int64_t(size)) >= int64_t(size)) {
    auto src = OpenRange(key, 0, size);
    if (!src.ok()) return ctx(src.status());
    Status s = ReadAll(src->get(), &f.whole, size);
    if (!s.ok()) return ctx(s);
    hb = f.whole.substr(0, ltx::kHeaderSize);
  } else {
    if (size <= kTailFetch) small_budget_.fetch_add(int64_t(size));
    // The snapshot's header starts the read of the whole object (one GET,
    // no Range: the cheapest request on any server; see Span).
    f.stream = k == 0;
    const int64_t t0 = NowMs();
    auto src = f.stream ? OpenRange(key, 0, std::nullopt) : OpenRange(key, 0, ltx::kHeaderSize);
    if (!src.ok()) return ctx(src.status());
    Status s = ReadAll(src->get(), &hb, ltx::kHeaderSize);
    if (!s.ok()) return ctx(s);
    if (f.stream) {
      f.lead = std::move(src).value();
      std::lock_guard<std::mutex> l(mu_);
      first_byte_ms_ = NowMs() - t0;
    }
  }
  auto h = ltx::Header::Decode(reinterpret_cast<const uint8_t*>(hb.data()), hb.size());
  if (!h.ok()) return ctx(h.status());
  f.h = *h;
  f.header_crc = Crc64Of(hb.data(), hb.size());
  if (f.h.min_txid != f.info->min_txid || f.h.max_txid != f.info->max_txid) {
    return Corruption("restore: " + key + ": header says TXID " + ltx::FormatTxid(f.h.min_txid) + "-" +
                      ltx::FormatTxid(f.h.max_txid) + ", the name says otherwise");
  }
  if (k == 0 && !f.h.IsSnapshot()) return Corruption("restore: " + key + ": the first file is not a snapshot");
  return Status::OK();
}

uint64_t Engine::FileChunk(uint64_t size) const {
  return std::clamp<uint64_t>(size / kRangesPerFile + 1, chunk_bytes_,
                              std::max<uint64_t>(chunk_bytes_, opts_.max_chunk_bytes));
}

Status Engine::CheckTrailer(const FileState& f, const ltx::Trailer& t) const {
  const uint64_t post = t.post_apply_checksum;
  const std::string& key = f.info->key;
  if (f.h.commit == 0 && post != ltx::kChecksumFlag) {
    return Corruption("restore: " + key + ": post-apply checksum " + ltx::FormatChecksum(post) + " of a commit-0 file is not the flag");
  }
  if (f.h.NoChecksum()) {
    if (post != 0) return Corruption("restore: " + key + ": post-apply checksum " + ltx::FormatChecksum(post) + " set without checksums");
  } else if ((post & ltx::kChecksumFlag) == 0) {
    return Corruption("restore: " + key + ": post-apply checksum " + ltx::FormatChecksum(post) + " lacks the checksum flag");
  }
  return Status::OK();
}

Status Engine::ReadIndex(size_t k, Source* stream, uint64_t marker_at, IndexInfo* out) {
  int64_t budget_release = 0;  // tail bytes held, returned when this returns
  struct Release {
    std::atomic<int64_t>* budget;
    int64_t* n;
    ~Release() { budget->fetch_add(*n); }
  } release{&tail_budget_, &budget_release};
  const FileState& f = files_[k];
  const std::string& key = f.info->key;
  const uint64_t size = f.info->size;
  auto ctx = [&](const Status& s) { return s.WithContext("restore: " + key); };
  // The last kTailFixed bytes: index length, post-apply checksum, file checksum.
  uint8_t fixed[kTailFixed];
  uint64_t tail_n = 0;
  std::string tail;
  const uint8_t* tp = nullptr;  // the file's last tail_n bytes, when read from the tail
  uint64_t index_len = 0;
  if (stream != nullptr) {
    if (marker_at + ltx::kPageHeaderSize + kTailFixed >= size) {
      return Corruption("restore: " + key + ": frames end at offset " + std::to_string(marker_at) +
                        ", leaving no room for a page index in " + std::to_string(size) + " bytes");
    }
    index_len = size - marker_at - ltx::kPageHeaderSize - kTailFixed;
  } else {
    tail_n = std::min<uint64_t>(size, kTailFetch);
    if (!f.whole.empty()) {
      tp = reinterpret_cast<const uint8_t*>(f.whole.data());  // the whole file: tail_n == size
    } else {
      const uint64_t big =
          std::min<uint64_t>(size, std::clamp<uint64_t>(size / kTailFraction, kTailFetch, kTailFetchMax));
      if (big > tail_n) {
        if (tail_budget_.fetch_sub(int64_t(big)) >= int64_t(big)) {
          tail_n = big;
          budget_release = int64_t(big);
        } else {
          tail_budget_.fetch_add(int64_t(big));
        }
      }
      auto src = OpenRange(key, size - tail_n, tail_n);
      if (!src.ok()) return ctx(src.status());
      Status s = ReadAll(src->get(), &tail, tail_n);
      if (!s.ok()) return ctx(s);
      tp = reinterpret_cast<const uint8_t*>(tail.data());
    }
    std::memcpy(fixed, tp + tail_n - kTailFixed, kTailFixed);
    index_len = GetBE64(fixed);
  }
  auto trailer = [&]() -> Status {
    out->t.post_apply_checksum = GetBE64(fixed + 8);
    out->t.file_checksum = GetBE64(fixed + 16);
    return CheckTrailer(f, out->t);
  };
  if (stream == nullptr) WALSHIP_RETURN_IF_ERROR(trailer());
  ltx::PageIndexParser parser(size, index_len);
  const uint64_t marker_off = parser.pages_end();  // 0 if the length is out of range
  if (marker_off == 0) return ctx(parser.Finish());

  const uint32_t lock = ltx::LockPgno(f.h.page_size);
  const bool snapshot = f.h.IsSnapshot();
  // The snapshot is streamed: its chunks are the decoders' units of work
  // (stream_chunk_ each), not reads. A later file is split into about
  // kRangesPerFile ranges (never fewer bytes than chunk_bytes_, never more
  // than max_chunk_bytes): few requests (an S3 server may charge per request,
  // and moto reads the whole object for every ranged GET). Reads are
  // streamed, so memory does not grow with the range. A function of the
  // options and the file's size only, so a resumed run splits the same way;
  // StreamCutter cuts the snapshot's stream by the same rule.
  const uint64_t file_chunk = f.stream ? stream_chunk_ : FileChunk(size);
  std::vector<Chunk>& chunks = out->chunks;
  uint32_t prev = 0;
  Chunk cur;
  Crc64 hash;
  auto on_entry = [&](const ltx::PageIndexEntry& e) -> Status {
    auto bad = [&](const std::string& m) {
      return Corruption("restore: " + key + ": page index: page " + std::to_string(e.pgno) + ": " + m);
    };
    if (e.pgno > f.h.commit) return bad("beyond commit " + std::to_string(f.h.commit));
    if (e.pgno == lock) return bad("lock page stored");
    if (snapshot) {
      uint32_t want = prev + 1;
      if (want == lock) want++;
      if (e.pgno != want) return bad("nonsequential page in snapshot (want " + std::to_string(want) + ")");
    }
    prev = e.pgno;
    if (cur.frames > 0 && cur.len + e.size > file_chunk) {
      cur.frames_hash = hash.Sum();
      chunks.push_back(cur);
      cur = Chunk{};
      hash.Reset();
    }
    if (cur.frames == 0) {
      cur.off = e.offset;
      cur.first_pgno = e.pgno;
    }
    cur.len += e.size;
    cur.last_pgno = e.pgno;
    cur.frames++;
    uint8_t b[12];
    PutBE32(b, e.pgno);
    PutBE64(b + 4, e.size);
    hash.Update(b, sizeof(b));
    if (e.pgno <= f.suffix_min_commit) SetBit(e.pgno);
    return Status::OK();
  };

  // The tail stream of the checksum: end marker, index, index length, post-apply.
  Crc64 tcrc;
  const uint64_t region = ltx::kPageHeaderSize + index_len;  // marker + index
  auto feed = [&](const uint8_t* p, size_t n, uint64_t at) -> Status {
    tcrc.Update(p, n);
    // Bytes of the end-of-pages marker come first.
    size_t skip = 0;
    while (skip < n && at + skip < marker_off + ltx::kPageHeaderSize) {
      if (p[skip] != 0) return Corruption("restore: " + key + ": end-of-pages marker is not zero");
      skip++;
    }
    return parser.Feed(p + skip, n - skip, on_entry);
  };
  if (tp != nullptr && marker_off >= size - tail_n) {
    const size_t at = size_t(marker_off - (size - tail_n));
    WALSHIP_RETURN_IF_ERROR(ctx(feed(tp + at, size_t(region), marker_off)));
  } else {
    std::unique_ptr<Source> ranged;
    Source* src = stream;
    if (src == nullptr) {
      auto o = OpenRange(key, marker_off, region);
      if (!o.ok()) return ctx(o.status());
      ranged = std::move(o).value();
      src = ranged.get();
    }
    std::unique_ptr<uint8_t[]> buf(new uint8_t[kStreamBuf]);
    uint64_t at = marker_off;
    while (at < marker_off + region) {
      auto n = src->Read(buf.get(), std::min<uint64_t>(kStreamBuf, marker_off + region - at));
      if (!n.ok()) return ctx(n.status());
      if (*n == 0) return Corruption("restore: " + key + ": short read of the page index");
      WALSHIP_RETURN_IF_ERROR(ctx(feed(buf.get(), *n, at)));
      at += *n;
    }
  }
  if (stream != nullptr) {
    // The stream goes on with the index length and the trailer, and ends.
    WALSHIP_RETURN_IF_ERROR(ctx(stream->ReadFull(fixed, kTailFixed)));
    if (GetBE64(fixed) != index_len) {
      return Corruption("restore: " + key + ": index length " + std::to_string(GetBE64(fixed)) +
                        " does not match the " + std::to_string(index_len) + " bytes after the frames");
    }
    WALSHIP_RETURN_IF_ERROR(trailer());
    uint8_t extra;
    auto n = stream->Read(&extra, 1);
    if (!n.ok()) return ctx(n.status());
    if (*n != 0) return Corruption("restore: " + key + ": more bytes than the " + std::to_string(size) + " listed");
  }
  WALSHIP_RETURN_IF_ERROR(ctx(parser.Finish()));
  if (snapshot) {
    uint64_t next = uint64_t{prev} + 1;
    if (next == lock) next++;
    if (next <= f.h.commit) {
      return Corruption("restore: " + key + ": snapshot ends at page " + std::to_string(prev) + " but commit is " +
                        std::to_string(f.h.commit));
    }
  }
  if (cur.frames > 0) {
    cur.frames_hash = hash.Sum();
    chunks.push_back(cur);
  }
  tcrc.Update(fixed, 16);  // index length + post-apply checksum
  out->tail_crc = tcrc.Sum();
  out->tail_len = region + 16;
  return Status::OK();
}

uint64_t Engine::Overhead(const FileState& f) {
  uint64_t frame_bytes = 0;
  for (const Chunk& c : f.chunks) frame_bytes += c.len;
  return f.info->size - frame_bytes;
}

void Engine::InstallIndex(size_t k, IndexInfo&& info) {
  FileState& f = files_[k];
  f.chunks = std::move(info.chunks);
  f.t = info.t;
  f.tail_crc = info.tail_crc;
  f.tail_len = info.tail_len;
  f.remaining = f.chunks.size();
  overhead_bytes_ += Overhead(f);  // reported with the resumed bytes
}

// The snapshot's index, once read (from its tail, for a split, or at the
// stream's end) while its stream is cut into chunks: the chunks cut so far
// must be the index's first ones; the rest are added (the stream's span now
// ends where the index does). A second reading must agree with the first.
// Wakes the waiters and reports the index's bytes as progress.
Status Engine::AdoptIndex(IndexInfo&& info) {
  uint64_t overhead = 0;
  Status s;
  {
    std::lock_guard<std::mutex> l(mu_);
    s = AdoptIndexLocked(std::move(info), &overhead);
  }
  cv_.notify_all();
  if (overhead > 0) AddProgress(overhead);
  return s;
}

Status Engine::AdoptIndexLocked(IndexInfo&& info, uint64_t* overhead) {
  FileState& f = files_[0];
  const std::string& key = f.info->key;
  const size_t have = f.chunks.size();
  if (index_known_) {
    if (info.chunks.size() != have || !std::equal(info.chunks.begin(), info.chunks.end(), f.chunks.begin(), SameChunk)) {
      return Corruption("restore: " + key + ": the page index read twice differs");
    }
    return Status::OK();
  }
  if (info.chunks.size() < have) {
    return Corruption("restore: " + key + ": the page index lists " + std::to_string(info.chunks.size()) +
                      " chunks of frames, the stream has more");
  }
  for (size_t i = 0; i < have; i++) {
    if (!SameChunk(info.chunks[i], f.chunks[i])) {
      return Corruption("restore: " + key + ": frames at offset " + std::to_string(f.chunks[i].off) +
                        " do not match the page index");
    }
  }
  if (info.chunks.size() > f.chunks.capacity()) return Internal("restore: " + key + ": more chunks than reserved");
  for (size_t i = have; i < info.chunks.size(); i++) f.chunks.push_back(info.chunks[i]);
  f.remaining += info.chunks.size() - have;
  f.remaining--;  // the index is no longer awaited
  f.t = info.t;
  f.tail_crc = info.tail_crc;
  f.tail_len = info.tail_len;
  index_known_ = true;
  spans_[0]->end = uint32_t(f.chunks.size());
  *overhead = Overhead(f);
  overhead_bytes_ += *overhead;
  while (files_done_ < files_.size() && files_[files_done_].remaining == 0) files_done_++;
  return Status::OK();
}

std::string Engine::JournalJson(uint64_t frontier) const {
  nlohmann::json j;
  j["version"] = 3;  // 2: the snapshot in chunk_bytes chunks; 3: files by header checksum, chunks with offsets
  j["chunk_bytes"] = chunk_bytes_;
  j["page_size"] = page_size_;
  j["frontier"] = frontier;
  nlohmann::json fs = nlohmann::json::array();
  for (const FileState& f : files_) {
    // The header's checksum, not the trailer's: the snapshot's trailer comes
    // at the end of its stream.
    fs.push_back({{"key", f.info->key}, {"size", f.info->size}, {"header_crc", ltx::FormatChecksum(f.header_crc)}});
  }
  j["files"] = fs;
  nlohmann::json cs = nlohmann::json::array();
  for (auto [fi, ci] : synced_) {
    const Chunk& c = files_[fi].chunks[ci];
    cs.push_back({fi, ci, ltx::FormatChecksum(c.crc), c.stream_len, ltx::FormatChecksum(c.page_xor), c.off, c.len});
  }
  j["chunks"] = cs;
  return j.dump();
}

Status Engine::WriteJournal(uint64_t frontier) {
  std::string data;
  {
    std::lock_guard<std::mutex> l(mu_);
    data = JournalJson(frontier);
  }
  Status s = WriteFileAtomic(journal_path_, data);
  if (!s.ok()) return s.WithContext("restore: write the resume journal");
  frontier_written_ = frontier;
  have_frontier_ = true;
  return Status::OK();
}

// fdatasync, then records the chunks done before it (they were written
// before it began) in the journal. Called by the flusher thread (after
// every sync_every_bytes written, and every journal_every_ms) and on an error
// that keeps the output. The fdatasync, which may take long while the
// snapshot's pages are written back, holds only sync_mu_ (one at a time),
// not the journal's flush_mu_: a worker whose file's turn came records the
// new frontier meanwhile.
Status Engine::SyncAndRecord(bool force) {
  std::lock_guard<std::mutex> sl(sync_mu_);
  last_flush_ms_ = NowMs();
  const uint64_t written = written_.load();
  std::vector<std::pair<uint32_t, uint32_t>> batch;
  if (journal_on_) {
    std::lock_guard<std::mutex> l(mu_);
    batch.swap(pending_);
  }
  if (!sync_error_.ok()) return sync_error_;
  if (!force && batch.empty() && written == synced_written_) return Status::OK();
  if (::fdatasync(out_.fd()) != 0) {
    // Pages that failed to write may now count as clean, and a later
    // fdatasync succeed: nothing is recorded after a failure.
    sync_error_ = ErrnoStatus("restore: fdatasync", tmp_path_, errno);
    return sync_error_;
  }
  synced_written_ = written;
  if (!journal_on_) return Status::OK();
  {
    std::lock_guard<std::mutex> l(mu_);
    synced_.insert(synced_.end(), batch.begin(), batch.end());
  }
  std::lock_guard<std::mutex> fl(flush_mu_);
  return WriteJournal(frontier_written_);
}

void Engine::Flusher() {
  const int64_t every_ms = std::max<int64_t>(opts_.journal_every_ms, 1);
  auto bytes_due = [&] { return written_.load() - synced_written_.load() >= sync_every_; };
  std::unique_lock<std::mutex> l(flusher_mu_);
  for (;;) {
    flusher_cv_.wait_for(l, std::chrono::milliseconds(every_ms), [&] { return flusher_stop_ || bytes_due(); });
    if (flusher_stop_) return;
    if (!bytes_due() && NowMs() - last_flush_ms_.load() < every_ms) continue;
    l.unlock();
    Status s = SyncAndRecord(false);
    if (!s.ok()) return Fail(std::move(s));
    l.lock();
  }
}

void Engine::LoadJournal() {
  auto data = ReadFileToString(journal_path_);
  if (!data.ok()) return;
  auto j = nlohmann::json::parse(*data, nullptr, /*allow_exceptions=*/false);
  auto start_over = [&](const std::string& why) {
    WLOG_INFO("restore: not resuming from {}: {}", journal_path_, why);
  };
  if (j.is_discarded() || !j.is_object()) return start_over("unreadable journal");
  const auto& files = j["files"];
  const auto& chunks = j["chunks"];
  if (j.value("version", 0) != 3 || !files.is_array() || !chunks.is_array() || !j["frontier"].is_number_unsigned() ||
      j.value("chunk_bytes", uint64_t{0}) != chunk_bytes_ || j.value("page_size", 0u) != page_size_) {
    return start_over("different settings");
  }
  size_t common = 0;
  while (common < files.size() && common < files_.size()) {
    const auto& jf = files[common];
    const FileState& f = files_[common];
    if (!jf.is_object() || jf.value("key", "") != f.info->key || jf.value("size", uint64_t{0}) != f.info->size ||
        jf.value("header_crc", "") != ltx::FormatChecksum(f.header_crc)) {
      break;
    }
    common++;
  }
  const uint64_t frontier = j["frontier"].get<uint64_t>();
  if (frontier >= common) return start_over("the plan changed before the files already applied");
  std::vector<std::pair<uint32_t, uint32_t>> kept;
  for (const auto& c : chunks) {
    if (!c.is_array() || c.size() != 7 || !c[0].is_number_unsigned() || !c[1].is_number_unsigned() ||
        !c[2].is_string() || !c[3].is_number_unsigned() || !c[4].is_string() || !c[5].is_number_unsigned() ||
        !c[6].is_number_unsigned()) {
      return start_over("malformed chunk entry");
    }
    const uint64_t fi = c[0].get<uint64_t>(), ci = c[1].get<uint64_t>();
    if (fi >= common || ci >= files_[fi].chunks.size()) continue;
    Chunk& ch = files_[fi].chunks[ci];
    if (ch.done || ch.off != c[5].get<uint64_t>() || ch.len != c[6].get<uint64_t>()) continue;
    ch.done = true;
    ch.crc = std::strtoull(c[2].get<std::string>().c_str(), nullptr, 16);
    ch.stream_len = c[3].get<uint64_t>();
    ch.page_xor = std::strtoull(c[4].get<std::string>().c_str(), nullptr, 16);
    kept.emplace_back(uint32_t(fi), uint32_t(ci));
  }
  for (auto [fi, ci] : kept) {
    files_[fi].remaining--;
    bytes_resumed_ += files_[fi].chunks[ci].len;
  }
  synced_ = kept;
  frontier_written_ = frontier;
  have_frontier_ = true;
}

// For a worker (mu_ held through l; the first thing it takes, and what it
// does instead of waiting): decodes a chunk of the snapshot's read-ahead or
// applies a spooled chunk whose turn came, if there is one (returns true;
// its status in *s). File 0 never waits, its reader
// must not stall behind parked workers, and a spooled chunk may be what the
// others wait for.
bool Engine::ServeOne(std::unique_lock<std::mutex>& l, Status* s) {
  if (!queue_.empty()) {
    Queued q = std::move(queue_.front());
    queue_.pop_front();
    l.unlock();
    *s = DoQueued(std::move(q));
    l.lock();
    return true;
  }
  if (Ready r; TakeReady(&r)) {
    l.unlock();
    *s = DoReady(r);
    l.lock();
    return true;
  }
  return false;
}

Status Engine::WaitTurn(size_t file) {
  {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      if (stop_) return Cancelled("restore: stopped");
      if (files_done_.load() >= file) {
        PassOn();
        break;
      }
      // The snapshot's stream failed and what it read is decoded: file 0
      // cannot finish.
      if (!reader_error_.ok() && ahead_bytes_ == 0) return reader_error_;
      Status s;
      if (ServeOne(l, &s)) {
        WALSHIP_RETURN_IF_ERROR(s);
        continue;
      }
      cv_.wait(l);
    }
  }
  if (journal_on_ && (!have_frontier_ || frontier_written_ < file)) {
    std::lock_guard<std::mutex> fl(flush_mu_);
    if (!have_frontier_ || frontier_written_ < file) WALSHIP_RETURN_IF_ERROR(WriteJournal(file));
  }
  return Status::OK();
}

Status Engine::DoChunk(size_t fi, size_t ci) {
  FileState& f = files_[fi];
  Chunk& c = f.chunks[ci];
  const std::string& key = f.info->key;
  auto ctx = [&](const Status& s) {
    return s.WithContext("restore: " + key + " bytes " + std::to_string(c.off) + "+" + std::to_string(c.len));
  };
  std::unique_ptr<Source> src;
  if (!f.whole.empty()) {
    WALSHIP_RETURN_IF_ERROR(WaitTurn(fi));
    src = std::make_unique<SpanSource>(f.whole.data() + c.off, size_t(c.len));
    return DecodeChunk(fi, ci, src.get());
  }
  if (fi > files_done_.load()) {
    if (c.len < kPrefetchMax) {
      // Fetch now (in parallel with earlier files), apply when its turn comes.
      auto s = OpenRange(key, c.off, c.len);
      if (!s.ok()) return ctx(s.status());
      std::string data;
      Status st = ReadAll(s->get(), &data, c.len);
      if (!st.ok()) return ctx(st);
      StringSource mem(std::move(data));
      WALSHIP_RETURN_IF_ERROR(WaitTurn(fi));
      return DecodeChunk(fi, ci, &mem);
    }
    // Fetch now into the spool; any worker applies it when its turn comes.
    std::optional<uint64_t> at;
    WALSHIP_RETURN_IF_ERROR(SpoolChunk(fi, ci, &at));
    if (at) {
      {
        std::lock_guard<std::mutex> l(mu_);
        ready_.push_back(Ready{uint32_t(fi), uint32_t(ci), *at});
      }
      cv_.notify_all();
      return Status::OK();
    }
  }
  WALSHIP_RETURN_IF_ERROR(WaitTurn(fi));
  auto s = OpenRange(key, c.off, c.len);
  if (!s.ok()) return ctx(s.status());
  return DecodeChunk(fi, ci, s->get());
}

// Reads chunk ci of file fi into the spool; *at is where, or stays empty
// (nothing kept) when the spool is full or cannot be written.
Status Engine::SpoolChunk(size_t fi, size_t ci, std::optional<uint64_t>* at) {
  const Chunk& c = files_[fi].chunks[ci];
  const std::string& key = files_[fi].info->key;
  auto ctx = [&](const Status& s) {
    return s.WithContext("restore: " + key + " bytes " + std::to_string(c.off) + "+" + std::to_string(c.len));
  };
  const uint64_t off = spool_used_.fetch_add(c.len);
  if (off + c.len > kSpoolMax) return Status::OK();
  {
    // At most kSpoolReads at once (each read buffers in the backend; the
    // stream takes longer than the later files anyway); the others serve
    // meanwhile.
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      if (stop_) return Cancelled("restore: stopped");
      if (spool_reads_ < kSpoolReads) {
        PassOn();
        break;
      }
      Status s;
      if (ServeOne(l, &s)) {
        WALSHIP_RETURN_IF_ERROR(s);
        continue;
      }
      cv_.wait(l);
    }
    spool_reads_++;
  }
  struct Slot {
    Engine* e;
    ~Slot() {
      {
        std::lock_guard<std::mutex> l(e->mu_);
        e->spool_reads_--;
      }
      e->cv_.notify_all();
    }
  } slot{this};
  {
    std::lock_guard<std::mutex> l(spool_mu_);
    if (spool_failed_) return Status::OK();
    if (!spool_.valid()) {
      const std::string path = tmp_path_ + ".spool";
      auto fo = File::OpenWrite(path, /*truncate=*/true, 0600);
      Status s = fo.ok() ? RemoveFile(path) : fo.status();
      if (!s.ok()) {
        WLOG_DEBUG("restore: no spool ({}); later files are read in their turn", s.ToString());
        spool_failed_ = true;
        return Status::OK();
      }
      spool_ = std::move(fo).value();
    }
  }
  auto src = OpenRange(key, c.off, c.len);
  if (!src.ok()) return ctx(src.status());
  std::unique_ptr<uint8_t[]> buf(new uint8_t[kSpoolBuf]);
  uint64_t got = 0;
  while (got < c.len) {
    auto n = (*src)->Read(buf.get(), size_t(std::min<uint64_t>(kSpoolBuf, c.len - got)));
    if (!n.ok()) return ctx(n.status());
    if (*n == 0) return ctx(Corruption("short read: " + std::to_string(got) + " of " + std::to_string(c.len) + " bytes"));
    Status w = spool_.PWriteFull(buf.get(), *n, off + got);
    if (!w.ok()) {  // a full disk, say: read in turn instead
      WLOG_DEBUG("restore: spool write failed ({}); later files are read in their turn", w.ToString());
      std::lock_guard<std::mutex> l(spool_mu_);
      spool_failed_ = true;
      return Status::OK();
    }
    got += *n;
  }
  *at = off;
  return Status::OK();
}

// The first spooled chunk whose file's turn has come, or end (mu_ held).
std::vector<Engine::Ready>::iterator Engine::DueReady() {
  return std::find_if(ready_.begin(), ready_.end(), [&](const Ready& r) { return r.file <= files_done_.load(); });
}

// Takes a spooled chunk whose file's turn has come (mu_ held).
bool Engine::TakeReady(Ready* r) {
  const auto it = DueReady();
  if (it == ready_.end()) return false;
  *r = *it;
  ready_.erase(it);
  return true;
}

Status Engine::DoReady(const Ready& r) {
  WALSHIP_RETURN_IF_ERROR(WaitTurn(r.file));  // its turn came; records the journal's frontier
  const Chunk& c = files_[r.file].chunks[r.chunk];
  const int fd = ::dup(spool_.fd());  // FileSource owns its File; the spool is shared
  if (fd < 0) return ErrnoStatus("restore: dup the spool", tmp_path_ + ".spool", errno);
  FileSource src(File(fd, tmp_path_ + ".spool"), r.spool_off, c.len);
  return DecodeChunk(r.file, r.chunk, &src);
}

// Decodes chunk ci of file fi from src (positioned at its first frame, and
// ending with it) or from mem, writes its pages, records its checksum shares.
Status Engine::DecodeChunk(size_t fi, size_t ci, Source* src, const uint8_t* mem) {
  FileState& f = files_[fi];
  Chunk& c = f.chunks[ci];
  const std::string& key = f.info->key;
  auto ctx = [&](const Status& s) {
    return s.WithContext("restore: " + key + " bytes " + std::to_string(c.off) + "+" + std::to_string(c.len));
  };
  const uint32_t ps = page_size_;
  std::optional<ltx::FrameStreamDecoder> decoder;
  if (mem != nullptr) {
    decoder.emplace(mem, size_t(c.len), ps);
  } else {
    decoder.emplace(src, ps, kReadBuffer);
  }
  ltx::FrameStreamDecoder& dec = *decoder;
  // The write buffer is the thread's, kept across chunks.
  thread_local std::unique_ptr<uint8_t[]> tl_wbuf;
  thread_local size_t tl_wcap = 0;
  if (tl_wcap < std::max<size_t>(kWriteBuffer, ps)) {
    tl_wcap = std::max<size_t>(kWriteBuffer, ps);
    tl_wbuf.reset(new uint8_t[tl_wcap]);
  }
  uint8_t* const wbuf = tl_wbuf.get();
  const size_t wcap = std::max<size_t>(kWriteBuffer / ps, 1);
  size_t wpages = 0;
  uint32_t wfirst = 0;
  // Written bytes not yet handed to writeback: [span_lo, span_hi).
  uint64_t span_lo = 0, span_hi = 0;
  auto write = [&](const uint8_t* p, size_t n, uint64_t off) -> Status {
    WALSHIP_RETURN_IF_ERROR(out_.PWriteFull(p, n, off));
    const uint64_t w = written_.fetch_add(n) + n;
    if (w / sync_every_ != (w - n) / sync_every_) {
      std::lock_guard<std::mutex> fl(flusher_mu_);
      flusher_cv_.notify_one();
    }
    if (off != span_hi) {
      if (span_hi - span_lo >= kWritebackMin) StartWriteback(span_lo, span_hi - span_lo);
      span_lo = off;
    }
    span_hi = off + n;
    if (span_hi - span_lo >= kWritebackSpan) {
      StartWriteback(span_lo, span_hi - span_lo);
      span_lo = span_hi;
    }
    return Status::OK();
  };
  auto flush = [&]() -> Status {
    if (wpages == 0) return Status::OK();
    Status s = write(wbuf, wpages * size_t(ps), uint64_t(wfirst - 1) * ps);
    wpages = 0;
    return s;
  };
  const bool page_sums = f.h.IsSnapshot() && !f.h.NoChecksum();
  uint64_t reg = ~uint64_t{0};
  uint64_t stream_len = 0, page_xor = 0;
  Crc64 hash;
  uint32_t prev = 0;
  uint64_t reported = 0;
  ltx::FrameStreamDecoder::Frame fr;
  for (uint32_t i = 0; i < c.frames; i++) {
    if (stop_) return Cancelled("restore: stopped");
    if (wpages == wcap) WALSHIP_RETURN_IF_ERROR(ctx(flush()));
    uint8_t* page = wbuf + wpages * size_t(ps);
    Status s = dec.Next(&fr, page);
    if (!s.ok()) return ctx(s);
    if ((i == 0 && fr.pgno != c.first_pgno) || (i > 0 && fr.pgno <= prev) ||
        (i + 1 == c.frames && fr.pgno != c.last_pgno)) {
      return Corruption("restore: " + key + ": frame of page " + std::to_string(fr.pgno) +
                        " does not match the page index");
    }
    prev = fr.pgno;
    uint8_t b[12];
    PutBE32(b, fr.pgno);
    PutBE64(b + 4, fr.size);
    hash.Update(b, sizeof(b));
    const uint64_t lp = Crc64Raw(0, page, ps);
    reg = shift_->Apply(Crc64Raw(reg, fr.stored, fr.stored_len)) ^ lp;
    stream_len += fr.stored_len + ps;
    if (page_sums) page_xor ^= ltx::kChecksumFlag | ~(shift_->Apply(Crc64Raw(~uint64_t{0}, b, 4)) ^ lp);
    if (wpages > 0 && fr.pgno != wfirst + wpages) {
      // Not contiguous: write what is buffered, then move this page to the front.
      const uint32_t keep_pgno = fr.pgno;
      Status st = write(wbuf, wpages * size_t(ps), uint64_t(wfirst - 1) * ps);
      if (!st.ok()) return ctx(st);
      std::memmove(wbuf, page, ps);
      wpages = 0;
      wfirst = keep_pgno;
    }
    if (wpages == 0) wfirst = fr.pgno;
    wpages++;
    const uint64_t now = dec.consumed();
    if (now - reported >= kWriteBuffer) {
      AddProgress(now - reported);
      reported = now;
    }
  }
  WALSHIP_RETURN_IF_ERROR(ctx(flush()));
  if (span_hi - span_lo >= kWritebackMin) StartWriteback(span_lo, span_hi - span_lo);
  if (dec.consumed() != c.len || hash.Sum() != c.frames_hash) {
    return Corruption("restore: " + key + ": frames at " + std::to_string(c.off) + " do not match the page index");
  }
  WALSHIP_RETURN_IF_ERROR(ctx(dec.ExpectEnd()));
  AddProgress(c.len - reported);

  bool advanced = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    c.crc = ~reg;
    c.stream_len = stream_len;
    c.page_xor = page_xor;
    c.done = true;
    f.remaining--;
    if (f.remaining == 0) {
      small_budget_.fetch_add(int64_t(f.whole.size()));
      std::string().swap(f.whole);
    }
    pending_.emplace_back(uint32_t(fi), uint32_t(ci));
    while (files_done_ < files_.size() && files_[files_done_].remaining == 0) {
      files_done_++;
      advanced = true;
    }
  }
  if (advanced) cv_.notify_all();
  return Status::OK();
}

// A worker takes, in this order: a chunk the snapshot's stream read ahead; a
// spooled chunk whose turn came; a span of the snapshot nobody reads (after
// a resume); the next chunk of the later files (spooled if its turn has not
// come); else, once the reads are the bottleneck, the upper half of a span
// being read (a second read of the snapshot). It stops when nothing is left
// to take.
void Engine::Worker() {
  for (;;) {
    if (stop_) return;
    Status s;
    Span* own = nullptr;
    {
      std::unique_lock<std::mutex> l(mu_);
      if (ServeOne(l, &s)) {
        l.unlock();
        if (!s.ok()) {
          Fail(std::move(s));
          return;
        }
        continue;
      }
      if ((own = UnownedSpan()) != nullptr) own->owned = true;
    }
    if (own != nullptr) {
      s = DoSpan(own);
    } else if (const size_t i = next_.fetch_add(1); i < order_.size()) {
      auto [fi, ci] = order_[i];
      if (!files_[fi].chunks[ci].done) s = DoChunk(fi, ci);
    } else {
      std::unique_lock<std::mutex> l(mu_);
      if (!queue_.empty() || UnownedSpan() != nullptr || stop_ || DueReady() != ready_.end()) continue;
      if (!reader_running_ && SpansExhausted() && ready_.empty()) return;
      bool load_index = false;
      own = TrySplit(NowMs(), &load_index);
      if (load_index) {
        l.unlock();
        s = LoadIndexForSplit();
        if (!s.ok()) {
          Fail(std::move(s));
          return;
        }
        continue;
      }
      if (own == nullptr) {
        cv_.wait_for(l, std::chrono::milliseconds(kIdleWaitMs));
        continue;
      }
      l.unlock();
      s = DoSpan(own);
    }
    if (!s.ok()) {
      Fail(std::move(s));
      return;
    }
  }
}

Span* Engine::UnownedSpan() {
  for (auto& sp : spans_) {
    if (!sp->owned && sp->next < sp->end) return sp.get();
  }
  return nullptr;
}

bool Engine::SpansExhausted() const {
  for (const auto& sp : spans_) {
    if (sp->next < sp->end) return false;
  }
  return true;
}

// The reads are the bottleneck when the reader has not waited for room in
// split_after_ms (decoders keep up) and a read is flowing; then the span
// with the most unclaimed chunks gives up its upper half (at least 2
// chunks). At most one split per split_after_ms. While the snapshot's
// chunks ahead are not known yet, the first such call sets *load_index
// instead (the caller reads the index from the tail), if at least 4 chunks'
// bytes of the stream are still to come.
Span* Engine::TrySplit(int64_t now, bool* load_index) {
  if (opts_.split_after_ms < 0 || reader_waiting_ ||
      now - std::max(reader_waited_ms_, last_split_ms_) < opts_.split_after_ms) {
    return nullptr;
  }
  if (!index_known_) {
    const uint64_t left = files_[0].info->size - stream_pos_;
    if (!index_loading_ && !stream_at_end_ && reader_running_ && stream_pos_ > 0 && left >= 4 * stream_chunk_ &&
        SplitPays(left, 2, now)) {
      index_loading_ = true;
      last_split_ms_ = now;
      *load_index = true;
    }
    return nullptr;
  }
  Span* big = nullptr;
  for (auto& sp : spans_) {
    if (sp->flowing && sp->next < sp->end && (big == nullptr || sp->end - sp->next > big->end - big->next)) {
      big = sp.get();
    }
  }
  if (big == nullptr || big->end - big->next < 4) return nullptr;
  const auto& chunks = files_[0].chunks;
  if (!SplitPays(chunks[big->end - 1].off + chunks[big->end - 1].len - chunks[big->next].off, 1, now)) {
    last_split_ms_ = now;  // judged again after split_after_ms
    return nullptr;
  }
  auto part = std::make_unique<Span>();
  part->end = big->end;
  part->next = big->next + (big->end - big->next + 1) / 2;
  big->end = part->next;
  part->owned = true;
  last_split_ms_ = now;
  splits_++;
  spans_.push_back(std::move(part));
  return spans_.back().get();
}

// A split of `bytes` still to read (half of them to a new read) saves about
// the time one read takes for half of them, at the rate one read gets; it
// costs `new_reads` requests (the tail's index, the new span) that each wait
// about as long as the stream's first bytes did. On S3 a read waits tens of
// milliseconds and streams under 100 MB/s: splits pay. A server that reads
// the whole object for every ranged GET (moto) waits seconds and streams
// fast: one read is quicker, and a second one would slow the first.
bool Engine::SplitPays(uint64_t bytes, int new_reads, int64_t now) const {
  const double rate = reader_running_ ? StreamRate(now, read_rate_) : read_rate_;  // the last measured, once the reader is done
  if (rate <= 0) return true;  // the stream stalls
  const double saved_ms = double(bytes) / rate / 2;
  return saved_ms > double(new_reads) * double(first_byte_ms_);
}

// Bytes per ms the stream moved since the reader last waited for the
// decoders (or first flowed); `fallback` if no time has passed since.
double Engine::StreamRate(int64_t now, double fallback) const {
  return now > rate_since_ms_ ? double(stream_pos_ - rate_since_pos_) / double(now - rate_since_ms_) : fallback;
}

// From now on, no split for split_after_ms, and the rate is measured afresh.
void Engine::RestartRateWindow() {
  reader_waited_ms_ = rate_since_ms_ = NowMs();
  rate_since_pos_ = stream_pos_;
}

// Reads the snapshot's index from its tail while the stream is cut, so that
// the chunks ahead of the stream are known and its span can be split.
Status Engine::LoadIndexForSplit() {
  IndexInfo info;
  Status s = ReadIndex(0, nullptr, 0, &info);
  if (s.ok()) s = AdoptIndex(std::move(info));
  std::lock_guard<std::mutex> l(mu_);
  index_loading_ = false;
  return s;
}

// The stream's reader (its own thread): cuts the snapshot's stream into
// chunks (StreamCutter) and queues their bytes, within kStreamAhead;
// decoding happens on the workers. While the index is not known, each chunk
// is added to file 0's list; once it is, each must be the index's next one,
// up to the span's end (a split may have moved it). At the end-of-pages
// marker of an undiscovered index, reads the index from the same stream.
void Engine::Reader(Span* sp) {
  FileState& f = files_[0];
  std::unique_ptr<Source> src = std::move(f.lead);
  StreamCutter cut(src.get(), page_size_, f.h.commit, stream_chunk_, pool_.get());
  Status err;
  for (;;) {
    uint32_t ci;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_ || (index_known_ && sp->next >= sp->end)) break;
      ci = sp->next;  // a split never takes a span's next chunk
      if (index_known_) {
        const Chunk& last = f.chunks[sp->end - 1];
        cut.set_limit(last.off + last.len);
      }
    }
    Chunk c;
    std::unique_ptr<uint8_t[]> data;
    size_t len = 0;
    Result<bool> more = cut.Next(&c, &data, &len);
    if (!more.ok()) {
      err = more.status();
      break;
    }
    if (!*more) {
      err = FinishStream(&cut, ci);
      break;
    }
    {
      std::unique_lock<std::mutex> l(mu_);
      if (index_known_) {
        if (ci >= f.chunks.size() || !SameChunk(c, f.chunks[ci])) {
          err = Corruption("frames at offset " + std::to_string(c.off) + " do not match the page index");
          break;
        }
      } else {
        if (f.chunks.size() == f.chunks.capacity()) {
          err = Internal("more chunks than reserved");
          break;
        }
        f.chunks.push_back(c);
        f.remaining++;
      }
      sp->next = ci + 1;
      stream_pos_ = c.off + c.len;
      if (sp->flowing) read_rate_ = StreamRate(NowMs(), read_rate_);
      if (ahead_bytes_ > 0 && ahead_bytes_ + len > kStreamAhead) {
        reader_waiting_ = true;
        reader_waits_++;
        room_cv_.wait(l, [&] { return stop_.load() || ahead_bytes_ == 0 || ahead_bytes_ + len <= kStreamAhead; });
        reader_waiting_ = false;
        RestartRateWindow();  // the rate is judged on reads the decoders kept up with
      }
      if (stop_) break;
      ahead_bytes_ += len;
      queue_.push_back(Queued{ci, std::move(data), len});
      if (!sp->flowing) {
        sp->flowing = true;
        RestartRateWindow();  // a split is judged from the first bytes on
      }
    }
    // One chunk, one worker: waking them all for each chunk cost more CPU
    // in context switches than the decoding gained.
    cv_.notify_one();
  }
  src.reset();  // ends the GET if the span was split
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!err.ok()) {
      // The chunks already queued are still decoded (a rerun resumes after
      // them); the error is reported once the workers are done.
      reader_error_ = err.WithContext("restore: " + f.info->key + " (read as one stream, at offset " +
                                      std::to_string(cut.pos()) + ")");
      sp->end = sp->next;
    }
    reader_running_ = false;
    stream_end_ms_ = NowMs();
  }
  cv_.notify_all();
}

// The stream reached the end-of-pages marker after `chunks` chunks: unless
// the index is known and ends there too, reads it from the stream's rest
// and adopts it (or checks it against the one a split read).
Status Engine::FinishStream(StreamCutter* cut, uint32_t chunks) {
  {
    std::lock_guard<std::mutex> l(mu_);
    stream_at_end_ = true;
    if (index_known_) {
      if (chunks != files_[0].chunks.size()) {
        return Corruption("frames end at offset " + std::to_string(cut->pos()) + "; the page index lists more");
      }
      return Status::OK();
    }
  }
  IndexInfo info;
  WALSHIP_RETURN_IF_ERROR(ReadIndex(0, cut->rest(), cut->pos(), &info));
  if (info.chunks.size() != chunks) {
    return Corruption("frames end at offset " + std::to_string(cut->pos()) + " after " + std::to_string(chunks) +
                      " chunks; the page index lists " + std::to_string(info.chunks.size()));
  }
  return AdoptIndex(std::move(info));
}

Status Engine::DoQueued(Queued q) {
  const uint64_t n = q.len;
  Status s = WaitTurn(0);
  if (s.ok()) s = DecodeChunk(0, q.chunk, nullptr, q.buf.get());
  pool_->Put(std::move(q.buf));
  bool drained = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    ahead_bytes_ -= n;
    drained = ahead_bytes_ == 0 && !reader_running_;  // a failed stream's waiters may now give up
  }
  room_cv_.notify_one();
  if (drained) cv_.notify_all();
  return s;
}

// Reads the chunks of span sp with one ranged read from the first one
// claimed to the span's end, decoding as they come; stops where a split cut
// the span.
Status Engine::DoSpan(Span* sp) {
  WALSHIP_RETURN_IF_ERROR(WaitTurn(0));
  FileState& f = files_[0];
  std::unique_ptr<Source> src;  // from the first chunk claimed (a span's chunks are contiguous)
  for (;;) {
    uint32_t ci;
    uint64_t end_off;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_ || sp->next >= sp->end) break;
      ci = sp->next++;
      const Chunk& last = f.chunks[sp->end - 1];
      end_off = last.off + last.len;
    }
    const Chunk& c = f.chunks[ci];
    if (src == nullptr) {
      auto o = OpenRange(f.info->key, c.off, end_off - c.off);
      if (!o.ok()) return o.status().WithContext("restore: " + f.info->key);
      src = std::move(o).value();
    }
    LimitSource view(src.get(), c.len);
    WALSHIP_RETURN_IF_ERROR(DecodeChunk(0, ci, &view));
    {
      std::lock_guard<std::mutex> l(mu_);
      sp->flowing = true;
    }
  }
  return Status::OK();
}

Status Engine::FinishChecks() {
  for (const FileState& f : files_) {
    uint64_t crc = f.header_crc;
    uint64_t page_xor = 0;
    for (const Chunk& c : f.chunks) {
      crc = Crc64Combine(crc, c.crc, c.stream_len);
      page_xor ^= c.page_xor;
    }
    crc = Crc64Combine(crc, f.tail_crc, f.tail_len);
    if ((ltx::kChecksumFlag | crc) != f.t.file_checksum) {
      return Corruption("restore: " + f.info->key + ": file checksum mismatch: stored " + ltx::FormatChecksum(f.t.file_checksum) +
                        ", computed " + ltx::FormatChecksum(ltx::kChecksumFlag | crc));
    }
    if (f.h.IsSnapshot() && !f.h.NoChecksum() && f.t.post_apply_checksum != (ltx::kChecksumFlag | page_xor)) {
      return Corruption("restore: " + f.info->key + ": post-apply checksum " + ltx::FormatChecksum(f.t.post_apply_checksum) +
                        " does not match the snapshot's pages (" + ltx::FormatChecksum(ltx::kChecksumFlag | page_xor) + ")");
    }
  }
  const uint32_t lock = ltx::LockPgno(page_size_);
  for (uint32_t p = 1; p <= final_commit_; p++) {
    if (p != lock && !Bit(p)) {
      return Corruption("restore: page " + std::to_string(p) + " is missing: no file of the plan holds its last version");
    }
  }
  return Status::OK();
}

Result<ApplyResult> Engine::Run() {
  if (plan_.files.empty() || plan_.files[0].min_txid != 1) return Internal("restore plan does not start with a snapshot");
  run_start_ms_ = NowMs();
  const int threads = std::max(opts_.parallelism, 1);
  chunk_bytes_ = std::max<uint64_t>(opts_.chunk_bytes, 1);
  sync_every_ = std::max<uint64_t>(opts_.sync_every_bytes, 1);
  stream_chunk_ = std::min<uint64_t>(chunk_bytes_, kStreamChunkMax);
  files_.resize(plan_.files.size());
  for (size_t k = 0; k < files_.size(); k++) files_[k].info = &plan_.files[k];

  const bool can_resume = opts_.resume && FileExists(tmp_path_) && FileExists(journal_path_);

  // 1. Headers, then indexes (a page's last version depends on later Commits).
  WALSHIP_RETURN_IF_ERROR(ParallelFor(files_.size(), threads, [&](size_t k) { return ReadHeader(k); }));
  page_size_ = files_[0].h.page_size;
  for (const FileState& f : files_) {
    if (f.h.page_size != page_size_) {
      return Corruption("restore: " + f.info->key + ": page size " + std::to_string(f.h.page_size) +
                        " differs from the snapshot's " + std::to_string(page_size_));
    }
  }
  final_commit_ = files_.back().h.commit;
  uint64_t m = UINT32_MAX;
  uint32_t max_commit = 0;
  for (size_t k = files_.size(); k-- > 0;) {
    files_[k].suffix_min_commit = m;
    m = std::min<uint64_t>(m, files_[k].h.commit);
    max_commit = std::max(max_commit, files_[k].h.commit);
  }
  const size_t words = (size_t(max_commit) + 63) / 64 + 1;
  bitmap_.reset(new std::atomic<uint64_t>[words]);
  for (size_t i = 0; i < words; i++) bitmap_[i].store(0, std::memory_order_relaxed);
  shift_ = std::make_unique<Crc64Shift>(page_size_);
  // Starting from zero, the snapshot's index is not waited for: its stream
  // is cut into chunks as it arrives, and the index read at its end (a
  // ranged read of the tail would make servers that read the whole object
  // for any GET, as moto does, read it twice before the first page).
  discover_ = files_[0].stream && !can_resume;
  index_known_ = !discover_;
  Status indexes = ParallelFor(files_.size(), threads, [&](size_t k) {
    if (k == 0 && discover_) return Status::OK();
    IndexInfo info;
    WALSHIP_RETURN_IF_ERROR(ReadIndex(k, nullptr, 0, &info));
    InstallIndex(k, std::move(info));
    return Status::OK();
  });
  WALSHIP_RETURN_IF_ERROR(indexes);
  if (files_[0].stream) {
    // A chunk (stream_chunk_, or one frame if that is more), the frame that
    // did not fit, and a read's slack.
    pool_ = std::make_unique<BufferPool>(size_t(stream_chunk_ + 2 * ltx::MaxFrameSize(page_size_)) + (64 << 10));
  }
  if (discover_) {
    // Chunks are added as the stream is cut and never move (workers hold
    // references to them): room for the most the cutting rule can make.
    // Each chunk but the last, with the next one, holds more than
    // stream_chunk_; and each holds a frame of at least 7 bytes.
    const uint64_t size = files_[0].info->size;
    files_[0].chunks.reserve(size_t(std::min<uint64_t>(2 * (size / stream_chunk_) + 2, size / 7 + 1)));
    files_[0].remaining = 1;
  }

  // 2. The output: resume or start over.
  journal_on_ = opts_.resume;
  bool resumed = false;
  if (can_resume) {
    LoadJournal();
    resumed = have_frontier_;
  }
  if (!resumed) {
    for (FileState& f : files_) {
      for (Chunk& c : f.chunks) c.done = false;
      f.remaining = f.chunks.size() + (&f == &files_[0] && discover_ ? 1 : 0);
    }
    synced_.clear();
    bytes_resumed_ = 0;
    WALSHIP_RETURN_IF_ERROR(RemoveFile(journal_path_));
  }
  {
    auto fo = File::OpenWrite(tmp_path_, /*truncate=*/!resumed);
    if (!fo.ok()) return fo.status().WithContext("restore");
    out_ = std::move(fo).value();
  }
  if (resumed) WLOG_INFO("resuming restore: {} of {} bytes already fetched", bytes_resumed_, plan_.bytes);
  AddProgress(overhead_bytes_.load() + bytes_resumed_);
  while (files_done_ < files_.size() && files_[files_done_].remaining == 0) files_done_++;

  // 3. The snapshot by spans (one stream from the lead read when starting
  // from zero; after a resume, one span per run of chunks still to do), the
  // later files' chunks in plan order.
  FileState& f0 = files_[0];
  bool reader = false;
  size_t work = 0;
  if (f0.stream) {
    const bool fresh = f0.lead != nullptr && std::none_of(f0.chunks.begin(), f0.chunks.end(), [](const Chunk& c) { return c.done; });
    if (!fresh) f0.lead.reset();
    for (uint32_t i = 0; i < f0.chunks.size();) {
      if (f0.chunks[i].done) {
        i++;
        continue;
      }
      auto sp = std::make_unique<Span>();
      sp->next = i;
      while (i < f0.chunks.size() && !f0.chunks[i].done) i++;
      sp->end = i;
      work += sp->end - sp->next;
      spans_.push_back(std::move(sp));
    }
    if (discover_) {
      auto sp = std::make_unique<Span>();
      sp->end = UINT32_MAX;  // until the index is known
      spans_.push_back(std::move(sp));
      work = size_t(threads);
    }
    if (fresh && !spans_.empty()) {
      spans_[0]->owned = true;
      reader = reader_running_ = true;
    }
  }
  for (size_t k = f0.stream ? 1 : 0; k < files_.size(); k++) {
    for (size_t c = 0; c < files_[k].chunks.size(); c++) order_.emplace_back(uint32_t(k), uint32_t(c));
  }
  last_flush_ms_ = NowMs();
  {
    const size_t n = std::clamp<size_t>(order_.size() + work, 1, size_t(threads));
    std::thread ft([this] { Flusher(); });
    std::thread rt;
    if (reader) rt = std::thread([this, s0 = spans_[0].get()] { Reader(s0); });
    std::vector<std::thread> ts;
    for (size_t i = 1; i < n; i++) ts.emplace_back([this] { Worker(); });
    Worker();
    for (auto& t : ts) t.join();
    if (rt.joinable()) rt.join();
    {
      std::lock_guard<std::mutex> fl(flusher_mu_);
      flusher_stop_ = true;
    }
    flusher_cv_.notify_all();
    ft.join();
  }
  if (!reader_error_.ok()) Fail(reader_error_);
  const int64_t applied_ms = NowMs();
  if (reader) {
    WLOG_DEBUG("restore: the snapshot's first bytes came after {} ms; its stream ended at {} ms ({} waits for the "
               "decoders, {} reads in all); every file applied at {} ms",
               first_byte_ms_, stream_end_ms_ - run_start_ms_, reader_waits_, splits_ + 1, applied_ms - run_start_ms_);
  }
  Status err;
  {
    std::lock_guard<std::mutex> l(mu_);
    err = error_;
  }
  if (!err.ok()) {
    if (journal_on_ && Keepable(err.code())) SyncAndRecord(true).IgnoreError();  // keep what was written
    return err;
  }
  WALSHIP_RETURN_IF_ERROR(FinishChecks());
  WALSHIP_RETURN_IF_ERROR(out_.Truncate(uint64_t(final_commit_) * page_size_));
  WALSHIP_RETURN_IF_ERROR(out_.Sync());
  WALSHIP_RETURN_IF_ERROR(out_.Close());
  WLOG_DEBUG("restore: checked and synced at {} ms", NowMs() - run_start_ms_);

  ApplyResult res;
  res.pages = final_commit_;
  res.page_size = page_size_;
  res.bytes_read = bytes_read_.load();
  res.bytes_resumed = bytes_resumed_;
  return res;
}

}  // namespace

Result<ApplyResult> ApplyToFile(const replica::Replica& r, const Plan& plan, const RestoreOptions& opts,
                                const std::string& tmp_path, const std::string& journal_path) {
  Engine e(r, plan, opts, tmp_path, journal_path);
  return e.Run();
}

}  // namespace walship::restore::internal
