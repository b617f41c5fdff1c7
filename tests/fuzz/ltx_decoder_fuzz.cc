// libFuzzer target for the LTX decoder, page-index reader and merger.
//
// Decodes the input fully, then runs it through PageMerger as a single input
// and through the random-access readers. Differential checks abort on
// disagreement: the merger must accept exactly what the decoder accepts and
// yield the same pages, and a Compact of an accepted file must decode to the
// same pages again (Commit-0 files excepted: see below). Inputs that fail only
// on the file checksum are run again with the checksum repaired, so mutations
// also reach the checks behind it.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "base/io.h"
#include "ltx/compactor.h"
#include "ltx/decoder.h"

namespace {

using walship::Result;
using walship::Source;
using walship::Status;
using walship::StringSink;
namespace ltx = walship::ltx;

class MemSource final : public Source {
 public:
  explicit MemSource(std::string_view d) : d_(d) {}
  Result<size_t> Read(void* buf, size_t n) override {
    size_t k = std::min(n, d_.size() - pos_);
    std::memcpy(buf, d_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string_view d_;
  size_t pos_ = 0;
};

struct Decoded {
  Status status;
  ltx::Header header;
  std::vector<std::pair<uint32_t, std::string>> pages;
};

Decoded DecodeAll(std::string_view in) {
  Decoded out;
  MemSource src(in);
  ltx::Decoder d(&src);
  out.status = d.DecodeHeader();
  if (!out.status.ok()) return out;
  out.header = d.header();
  std::string page(d.header().page_size, '\0');
  for (;;) {
    uint32_t pgno = 0;
    Result<bool> r = d.NextPage(&pgno, reinterpret_cast<uint8_t*>(page.data()));
    if (!r.ok()) {
      out.status = r.status();
      return out;
    }
    if (!*r) break;
    out.pages.emplace_back(pgno, page);
  }
  out.status = d.Close();
  return out;
}

Decoded MergeOne(std::string_view in) {
  Decoded out;
  MemSource src(in);
  ltx::PageMerger m({ltx::MergeInput{"fuzz", &src}});
  out.status = m.Init();
  if (!out.status.ok()) return out;
  out.header = m.header();
  for (;;) {
    uint32_t pgno = 0;
    const uint8_t* data = nullptr;
    Result<bool> r = m.Next(&pgno, &data);
    if (!r.ok()) {
      out.status = r.status();
      return out;
    }
    if (!*r) break;
    out.pages.emplace_back(pgno, std::string(reinterpret_cast<const char*>(data), m.header().page_size));
  }
  return out;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "ltx fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

void RandomAccess(std::string_view in, uint32_t page_size) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  uint64_t need = 0;
  Result<std::vector<ltx::PageIndexEntry>> idx = ltx::DecodePageIndexFromTail(p, in.size(), in.size(), &need);
  if (!idx.ok()) return;
  std::string page(page_size, '\0');
  for (const ltx::PageIndexEntry& e : *idx) {
    Check(e.offset + e.size <= in.size(), "index entry inside the file");
    uint32_t pgno = 0;
    ltx::DecodePageFrame(p + e.offset, e.size, page_size, &pgno, reinterpret_cast<uint8_t*>(page.data()))
        .IgnoreError();
  }
}

// If decoding failed only on the file checksum, returns the input with the
// computed checksum written in (so mutations can reach the checks behind it:
// index, trailer rules, merger). Empty otherwise.
std::string RepairChecksum(std::string_view in, const Status& s) {
  // "ltx decode: offset N: file checksum mismatch: stored X, computed Y"
  const std::string& m = s.message();
  size_t at = m.find("offset ");
  size_t mis = m.find("file checksum mismatch");
  size_t comp = m.find("computed ");
  if (at == std::string::npos || mis == std::string::npos || comp == std::string::npos) return {};
  uint64_t off = std::strtoull(m.c_str() + at + 7, nullptr, 10);
  uint64_t sum = std::strtoull(m.c_str() + comp + 9, nullptr, 16);
  if (off + 8 > in.size()) return {};
  std::string out(in);
  for (int i = 0; i < 8; i++) out[off + size_t(i)] = char(sum >> (56 - 8 * i));
  return out;
}

// Runs every check on one input; returns the decoder's verdict.
Status RunOne(std::string_view in) {
  Decoded dec = DecodeAll(in);
  Decoded merged = MergeOne(in);
  Check(dec.status.ok() == merged.status.ok(), "decoder and merger agree on acceptance");

  uint32_t page_size = 4096;
  if (in.size() >= 12) {
    const auto* d = reinterpret_cast<const uint8_t*>(in.data());
    uint32_t ps = (uint32_t(d[8]) << 24) | (uint32_t(d[9]) << 16) | (uint32_t(d[10]) << 8) | d[11];
    if (ltx::IsValidPageSize(ps)) page_size = ps;
  }
  RandomAccess(in, page_size);
  if (!dec.status.ok()) return dec.status;

  Check(dec.pages == merged.pages, "merger yields the decoder's pages");
  MemSource again(in);
  Check(ltx::VerifyFile(&again).ok(), "VerifyFile accepts what the decoder accepts");
  // A Commit-0 file can only be written with checksums on; Compact writes
  // NoChecksum output, so it must refuse (as Litestream's compactor does).
  const bool writable = dec.header.commit != 0;
  for (ltx::PageEncoding enc : {ltx::PageEncoding::kBlock, ltx::PageEncoding::kFrame}) {
    MemSource src(in);
    StringSink sink;
    ltx::CompactOptions opts;
    opts.encoding = enc;
    Result<ltx::Header> h = ltx::Compact({ltx::MergeInput{"fuzz", &src}}, &sink, opts);
    Check(h.ok() == writable, "Compact of an accepted file succeeds (unless Commit is 0)");
    if (!writable) continue;
    Decoded round = DecodeAll(sink.data());
    Check(round.status.ok(), "Compact output decodes");
    Check(round.pages == dec.pages, "Compact output holds the same pages");
  }
  return dec.status;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Status s = RunOne(in);
  std::string repaired = s.ok() ? std::string() : RepairChecksum(in, s);
  if (!repaired.empty()) RunOne(repaired).IgnoreError();
  return 0;
}
