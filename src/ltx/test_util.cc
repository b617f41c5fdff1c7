#include "ltx/test_util.h"

#include <gtest/gtest.h>
#include <lz4.h>
#include <lz4frame.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/coding.h"
#include "base/crc64.h"

namespace walship::ltx::testing {

std::string VectorPath(const std::string& name) {
  return std::string(WALSHIP_SHARED_TESTDATA) + "/ltx/" + name;
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::abort();
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ReadVector(const std::string& name) { return ReadFileOrDie(VectorPath(name)); }

Result<size_t> SpanSource::Read(void* buf, size_t n) {
  reads_++;
  size_t k = std::min(n, data_.size() - pos_);
  if (chunk_ != 0) k = std::min(k, chunk_);
  std::memcpy(buf, data_.data() + pos_, k);
  pos_ += k;
  return k;
}

Result<size_t> FailingSource::Read(void* buf, size_t n) {
  if (pos_ >= ok_bytes_) return Status(Code::kIOError, "injected read failure", true);
  size_t k = std::min({n, data_.size() - pos_, ok_bytes_ - pos_});
  std::memcpy(buf, data_.data() + pos_, k);
  pos_ += k;
  return k;
}

Header MakeHeader(uint32_t page_size, uint32_t commit, uint64_t min_txid, uint64_t max_txid,
                  int64_t timestamp_ms) {
  Header h;
  h.flags = kHeaderFlagNoChecksum;
  h.page_size = page_size;
  h.commit = commit;
  h.min_txid = min_txid;
  h.max_txid = max_txid;
  h.timestamp_ms = timestamp_ms;
  return h;
}

Header ExampleHeader() { return MakeHeader(512, 1, 1, 1, 1000); }

std::string MakePage(uint32_t size, uint32_t pgno, uint32_t version) {
  std::string p(size, '\0');
  uint32_t x = pgno * 2654435761u ^ version * 40503u;
  for (uint32_t i = 0; i < size; i += 16) {
    x = x * 1103515245u + 12345u;
    std::memset(&p[i], char(x >> 24), std::min<uint32_t>(16, size - i) / 2);  // half runs, half zeros
  }
  PutBE32(reinterpret_cast<uint8_t*>(p.data()), pgno);
  PutBE32(reinterpret_cast<uint8_t*>(p.data()) + 4, version);
  return p;
}

Status TryEncode(const Header& h, const std::vector<Page>& pages, PageEncoding enc, uint64_t post_apply,
                 std::string* out) {
  StringSink sink;
  Encoder e(&sink, enc);
  WALSHIP_RETURN_IF_ERROR(e.EncodeHeader(h));
  for (const Page& p : pages) {
    WALSHIP_RETURN_IF_ERROR(e.EncodePage(p.pgno, reinterpret_cast<const uint8_t*>(p.data.data())));
  }
  WALSHIP_RETURN_IF_ERROR(e.Close(post_apply));
  *out = sink.data();
  return Status::OK();
}

std::string EncodeFile(const Header& h, const std::vector<Page>& pages, PageEncoding enc,
                       uint64_t post_apply) {
  std::string out;
  Status s = TryEncode(h, pages, enc, post_apply, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

Result<Decoded> DecodeAll(std::string_view bytes, size_t chunk) {
  SpanSource src(bytes, chunk);
  Decoder d(&src);
  WALSHIP_RETURN_IF_ERROR(d.DecodeHeader());
  Decoded out;
  std::string buf(d.header().page_size, '\0');
  for (;;) {
    uint32_t pgno = 0;
    WALSHIP_ASSIGN_OR_RETURN(bool more, d.NextPage(&pgno, reinterpret_cast<uint8_t*>(buf.data())));
    if (!more) break;
    out.pages.push_back(Page{pgno, buf});
  }
  WALSHIP_RETURN_IF_ERROR(d.Close());
  out.header = d.header();
  out.trailer = d.trailer();
  out.index = d.page_index();
  return out;
}

Status DecodeStatus(std::string_view bytes) {
  Result<Decoded> r = DecodeAll(bytes);
  return r.ok() ? Status::OK() : r.status();
}

std::string BuildRaw(const Header& h, const std::vector<RawFrame>& frames, const RawOptions& opts) {
  std::string out(kHeaderSize, '\0');
  h.EncodeTo(reinterpret_cast<uint8_t*>(out.data()));
  Crc64 crc;
  crc.Update(out);
  std::string index;
  uint8_t b[10];
  for (const RawFrame& f : frames) {
    const uint64_t off = out.size();
    PutBE32(b, f.pgno);
    PutBE16(b + 4, f.flags);
    size_t hdr = kPageHeaderSize;
    if (f.flags & kPageFlagSize) {
      PutBE32(b + 6, uint32_t(f.payload.size()));
      hdr += 4;
    }
    out.append(reinterpret_cast<char*>(b), hdr);
    crc.Update(b, hdr);
    crc.Update(f.data);
    out += f.payload;
    AppendUvarint(&index, f.pgno);
    AppendUvarint(&index, off);
    AppendUvarint(&index, out.size() - off);
  }
  std::string tail(kPageHeaderSize, '\0');
  index.push_back('\0');
  if (opts.mutate_index != nullptr) opts.mutate_index(&index);
  tail += index;
  uint8_t u64[8];
  PutBE64(u64, index.size());
  tail.append(reinterpret_cast<char*>(u64), 8);
  PutBE64(u64, opts.post_apply);
  tail.append(reinterpret_cast<char*>(u64), 8);
  crc.Update(tail);
  PutBE64(u64, opts.fix_file_checksum ? (kChecksumFlag | crc.Sum()) : 0x8000000000000001ull);
  tail.append(reinterpret_cast<char*>(u64), 8);
  return out + tail + opts.trailing;
}

RawFrame BlockFrame(uint32_t pgno, const std::string& data) {
  std::string c(size_t(LZ4_compressBound(int(data.size()))), '\0');
  int n = LZ4_compress_default(data.data(), c.data(), int(data.size()), int(c.size()));
  c.resize(size_t(n));
  return RawFrame{pgno, kPageFlagSize, c, data};
}

RawFrame LegacyFrame(uint32_t pgno, const std::string& data, bool content_checksum) {
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.frameInfo.contentChecksumFlag =
      content_checksum ? LZ4F_contentChecksumEnabled : LZ4F_noContentChecksum;
  std::string c(LZ4F_compressFrameBound(data.size(), &prefs), '\0');
  size_t n = LZ4F_compressFrame(c.data(), c.size(), data.data(), data.size(), &prefs);
  EXPECT_FALSE(LZ4F_isError(n));
  c.resize(n);
  return RawFrame{pgno, 0, c, data};
}

}  // namespace walship::ltx::testing
