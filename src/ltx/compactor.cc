#include "ltx/compactor.h"

#include <algorithm>

// Implementation notes.
// - A binary heap of input indices ordered by (pgno ascending, input index
//   descending): the top is the next output pgno in its latest version. Older
//   versions of that pgno are popped and advanced at once; the winner is
//   advanced on the next call so the returned pointer stays valid.
// - Inputs are read until their end even when their remaining pages lie above
//   the output Commit, so every input's index and file checksum get verified.

namespace walship::ltx {
namespace {

constexpr size_t kMergeBufferBudget = size_t{32} << 20;
constexpr size_t kMaxInputBuffer = size_t{1} << 20;
constexpr size_t kMinInputBuffer = size_t{16} << 10;

std::string Range(const Header& h) { return FormatTxid(h.min_txid) + "-" + FormatTxid(h.max_txid); }

}  // namespace

struct PageMerger::Cursor {
  explicit Cursor(Source* src) : dec(src) {}
  Decoder dec;
  std::string page;
  uint32_t pgno = 0;
  bool done = false;
};

PageMerger::PageMerger(std::vector<MergeInput> inputs) : inputs_(std::move(inputs)) {}

PageMerger::~PageMerger() = default;

Status PageMerger::Init() {
  if (initialized_) return InvalidArgument("ltx merge: Init called twice");
  initialized_ = true;
  if (inputs_.empty()) return error_ = InvalidArgument("ltx merge: no inputs");
  const size_t buffer = std::clamp(kMergeBufferBudget / inputs_.size(), kMinInputBuffer, kMaxInputBuffer);
  for (size_t i = 0; i < inputs_.size(); i++) {
    if (inputs_[i].source == nullptr)
      return error_ = InvalidArgument("ltx merge: input " + inputs_[i].name + ": no source");
    auto c = std::make_unique<Cursor>(inputs_[i].source);
    c->dec.set_keep_page_index(false);
    c->dec.set_read_buffer_size(buffer);
    Status s = c->dec.DecodeHeader();
    if (!s.ok()) return error_ = s.WithContext("ltx merge: input " + inputs_[i].name);
    const Header& h = c->dec.header();
    if (i > 0) {
      const Header& prev = cursors_.back()->dec.header();
      if (h.page_size != prev.page_size) {
        return error_ = FailedPrecondition("ltx merge: input " + inputs_[i].name + ": page size " +
                                           std::to_string(h.page_size) + " differs from " +
                                           std::to_string(prev.page_size));
      }
      if (h.min_txid > prev.max_txid + 1 || h.max_txid <= prev.max_txid) {
        return error_ = FailedPrecondition("ltx merge: non-contiguous inputs " + inputs_[i - 1].name + " (" +
                                           Range(prev) + ") and " + inputs_[i].name + " (" + Range(h) + ")");
      }
    }
    c->page.resize(h.page_size);
    cursors_.push_back(std::move(c));
  }

  const Header& first = cursors_.front()->dec.header();
  const Header& last = cursors_.back()->dec.header();
  header_ = Header{};
  header_.flags = kHeaderFlagNoChecksum;
  header_.page_size = first.page_size;
  header_.commit = last.commit;
  header_.min_txid = first.min_txid;
  header_.max_txid = last.max_txid;
  header_.timestamp_ms = last.timestamp_ms;

  heap_.reserve(cursors_.size());
  for (size_t i = 0; i < cursors_.size(); i++) {
    WALSHIP_RETURN_IF_ERROR(error_ = Advance(i));
    if (!cursors_[i]->done) HeapPush(uint32_t(i));
  }
  return Status::OK();
}

Status PageMerger::Advance(size_t i) {
  Cursor& c = *cursors_[i];
  for (;;) {
    Result<bool> more = c.dec.NextPage(&c.pgno, reinterpret_cast<uint8_t*>(c.page.data()));
    if (!more.ok()) return more.status().WithContext("ltx merge: input " + inputs_[i].name);
    if (!*more) break;
    if (c.pgno <= header_.commit) return Status::OK();  // pages above the output Commit are dropped
  }
  Status s = c.dec.Close();
  if (!s.ok()) return s.WithContext("ltx merge: input " + inputs_[i].name);
  c.done = true;
  if (i + 1 == cursors_.size()) last_post_apply_ = c.dec.trailer().post_apply_checksum;
  return Status::OK();
}

bool PageMerger::HeapLess(uint32_t a, uint32_t b) const {
  // True when a comes out after b: larger pgno, or same pgno from an older input.
  const uint32_t pa = cursors_[a]->pgno;
  const uint32_t pb = cursors_[b]->pgno;
  return pa != pb ? pa > pb : a < b;
}

void PageMerger::HeapPush(uint32_t i) {
  heap_.push_back(i);
  std::push_heap(heap_.begin(), heap_.end(), [this](uint32_t a, uint32_t b) { return HeapLess(a, b); });
}

uint32_t PageMerger::HeapPop() {
  std::pop_heap(heap_.begin(), heap_.end(), [this](uint32_t a, uint32_t b) { return HeapLess(a, b); });
  uint32_t i = heap_.back();
  heap_.pop_back();
  return i;
}

Result<bool> PageMerger::Next(uint32_t* pgno, const uint8_t** data) {
  if (!error_.ok()) return error_;
  if (!initialized_) return InvalidArgument("ltx merge: Next before Init");
  if (done_) return false;
  Result<bool> r = Step(pgno, data);
  if (!r.ok()) error_ = r.status();
  return r;
}

Result<bool> PageMerger::Step(uint32_t* pgno, const uint8_t** data) {
  if (pending_ != kNone) {
    const size_t w = pending_;
    pending_ = kNone;
    WALSHIP_RETURN_IF_ERROR(Advance(w));
    if (!cursors_[w]->done) HeapPush(uint32_t(w));
  }
  const bool snapshot = header_.IsSnapshot();
  uint64_t want = uint64_t{last_out_} + 1;
  if (want == LockPgno(header_.page_size)) want++;
  if (heap_.empty()) {
    if (snapshot && want <= header_.commit) {
      return Corruption("ltx merge: merged snapshot lacks pages " + std::to_string(want) + ".." +
                        std::to_string(header_.commit) + " (an input grew Commit without writing them)");
    }
    done_ = true;
    return false;
  }
  const uint32_t w = HeapPop();
  const uint32_t pg = cursors_[w]->pgno;
  while (!heap_.empty() && cursors_[heap_.front()]->pgno == pg) {
    const uint32_t older = HeapPop();
    WALSHIP_RETURN_IF_ERROR(Advance(older));
    if (!cursors_[older]->done) HeapPush(older);
  }
  if (snapshot && pg != want) {
    return Corruption("ltx merge: merged snapshot lacks page " + std::to_string(want) +
                      " (an input grew Commit without writing it)");
  }
  pending_ = w;
  last_out_ = pg;
  *pgno = pg;
  *data = reinterpret_cast<const uint8_t*>(cursors_[w]->page.data());
  return true;
}

Result<Header> Compact(std::vector<MergeInput> inputs, Sink* out, const CompactOptions& opts) {
  PageMerger merger(std::move(inputs));
  WALSHIP_RETURN_IF_ERROR(merger.Init());
  Header h = merger.header();
  if (opts.timestamp_ms != 0) h.timestamp_ms = opts.timestamp_ms;
  Encoder enc(out, opts.encoding);
  WALSHIP_RETURN_IF_ERROR(enc.EncodeHeader(h));
  uint32_t pgno = 0;
  const uint8_t* data = nullptr;
  for (;;) {
    WALSHIP_ASSIGN_OR_RETURN(bool more, merger.Next(&pgno, &data));
    if (!more) break;
    WALSHIP_RETURN_IF_ERROR(enc.EncodePage(pgno, data));
  }
  WALSHIP_RETURN_IF_ERROR(enc.Close(0));
  return h;
}

}  // namespace walship::ltx
