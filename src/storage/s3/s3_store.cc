#include "storage/s3/s3_store.h"

#include <cstring>

#include <atomic>

#include <curl/curl.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>
#include <deque>
#include <thread>

#include "base/parallel.h"
#include "base/timefmt.h"
#include "storage/s3/credentials.h"
#include "storage/s3/crypto.h"
#include "storage/s3/xml.h"

namespace walship::storage::s3 {
namespace {

constexpr const char* kTimestampHeader = "x-amz-meta-litestream-timestamp";
constexpr size_t kDeleteBatch = 1000;
constexpr uint64_t kMinPartSize = 5 << 20;
constexpr int kMaxParts = 10000;

std::string What(const char* method, const std::string& key) { return std::string("s3 ") + method + " " + key; }

// Reads exactly n bytes of body into *out; a short body is kInvalidArgument.
Status ReadBody(Source* body, uint64_t n, std::string* out) {
  out->resize(size_t(n));
  size_t got = 0;
  while (got < n) {
    WALSHIP_ASSIGN_OR_RETURN(size_t k, body->Read(out->data() + got, size_t(n) - got));
    if (k == 0) {
      return InvalidArgument("body ended after " + std::to_string(got) + " of " + std::to_string(n) + " bytes");
    }
    got += k;
  }
  return Status::OK();
}

// The longest prefix of s that is valid UTF-8 (S3 rejects other bytes in
// query parameters); it sorts at or before s, so it is a safe start-after.
std::string Utf8Prefix(const std::string& s) {
  size_t i = 0, good = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) break;
    bool ok = true;
    for (size_t j = 1; j < len; j++) ok = ok && (static_cast<unsigned char>(s[i + j]) >> 6) == 2;
    if (!ok) break;
    i += len;
    good = i;
  }
  return s.substr(0, good);
}

int64_t HttpDateMs(const std::string& s) {
  const time_t t = curl_getdate(s.c_str(), nullptr);
  return t < 0 ? 0 : int64_t(t) * 1000;
}

// A server's reply that is not the XML we expect is a server problem, not
// corrupt data: kUnavailable, not retried (a misconfigured endpoint stays so).
Result<std::unique_ptr<XmlNode>> ParseResponse(std::string_view what, const std::string& body) {
  auto xml = ParseXml(body);
  if (!xml.ok()) return Unavailable(std::string(what) + ": unreadable response: " + xml.status().message(), false);
  return xml;
}

// A response body that is an <Error> despite a 200 (CompleteMultipartUpload may do that).
Status ErrorIn200(std::string_view what, const std::string& body) {
  auto xml = ParseResponse(what, body);
  if (!xml.ok()) return xml.status();
  if ((*xml)->name != "Error") return Status::OK();
  const std::string code = (*xml)->ChildText("Code");
  return TranslateError(what, 0, nullptr, code == "PreconditionFailed" ? 412 : 500, body);
}

}  // namespace

std::string FormatRfc3339Nano(int64_t unix_ms) {
  std::string s = FormatRfc3339Ms(unix_ms);  // "...:20.120Z"
  const size_t dot = s.rfind('.');
  if (dot == std::string::npos) return s;
  size_t end = s.size() - 1;  // the 'Z'
  size_t last = end;
  while (last > dot + 1 && s[last - 1] == '0') last--;
  if (last == dot + 1) return s.substr(0, dot) + "Z";
  return s.substr(0, last) + "Z";
}

// Serialises no-overwrite Puts of one key within this store.
class S3Store::KeyReservation {
 public:
  KeyReservation(S3Store* store, const std::string& key) : store_(store), key_(key) {
    std::unique_lock<std::mutex> lock(store_->mu_);
    store_->cv_.wait(lock, [&] { return store_->putting_.count(key_) == 0; });
    store_->putting_.insert(key_);
  }
  ~KeyReservation() {
    {
      std::lock_guard<std::mutex> lock(store_->mu_);
      store_->putting_.erase(key_);
    }
    store_->cv_.notify_all();
  }
  KeyReservation(const KeyReservation&) = delete;
  KeyReservation& operator=(const KeyReservation&) = delete;

 private:
  S3Store* store_;
  std::string key_;
};

S3Store::S3Store(std::shared_ptr<S3Client> client, Tuning tuning) : client_(std::move(client)), tuning_(tuning) {}

Result<std::unique_ptr<S3Store>> S3Store::Create(const S3Options& opts) {
  if (opts.bucket.size() < 3) return InvalidArgument("s3: bucket name \"" + opts.bucket + "\" is too short");
  if (opts.part_size < kMinPartSize) return InvalidArgument("s3: part size below the S3 minimum of 5 MiB");
  if (opts.concurrency < 1) return InvalidArgument("s3: concurrency must be at least 1");
  if (opts.read_chunk < 1) return InvalidArgument("s3: read chunk must be positive");
  ClientConfig cc;
  cc.endpoint = opts.endpoint;
  cc.bucket = opts.bucket;
  cc.region = opts.region.empty() ? "us-east-1" : opts.region;
  cc.follow_bucket_region = opts.region.empty() && opts.endpoint.empty();
  cc.force_path_style = opts.force_path_style.value_or(!opts.endpoint.empty());
  cc.skip_verify = opts.skip_verify;
  cc.sign_payload = opts.sign_payload;
  cc.extra_headers = opts.extra_headers;
  cc.creds.access_key_id = opts.access_key_id;
  cc.creds.secret_access_key = opts.secret_access_key;
  cc.creds.session_token = opts.session_token;
  WALSHIP_RETURN_IF_ERROR(ResolveCredentials(&cc.creds));
  Tuning t;
  t.part_size = opts.part_size;
  t.concurrency = opts.concurrency;
  t.require_content_md5 = opts.require_content_md5;
  t.check_before_put = opts.check_before_put.value_or(!opts.endpoint.empty());
  t.read_chunk = opts.read_chunk;
  t.storage_class = opts.storage_class;
  return std::make_unique<S3Store>(std::make_shared<S3Client>(std::move(cc)), t);
}

std::vector<Header> S3Store::UploadHeaders(const PutOptions& opts) const {
  std::vector<Header> h;
  if (opts.timestamp_ms != 0) h.emplace_back(kTimestampHeader, FormatRfc3339Nano(opts.timestamp_ms));
  if (!tuning_.storage_class.empty()) h.emplace_back("x-amz-storage-class", tuning_.storage_class);
  return h;
}

Status S3Store::Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) {
  if (key.empty()) return InvalidArgument("s3 PUT: empty key");
  std::unique_ptr<KeyReservation> reservation;
  if (opts.no_overwrite) {
    reservation = std::make_unique<KeyReservation>(this, key);
    if (tuning_.check_before_put && !opts.absent_per_listing) {
      auto head = Head(key);
      if (head.ok()) return AlreadyExists(What("PUT", key) + ": object exists");
      if (head.status().code() != Code::kNotFound) return head.status();
    }
  }
  if (size < tuning_.part_size) return PutSingle(key, body, size, opts);
  return PutMultipart(key, body, size, opts);
}

Status S3Store::PutSingle(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) {
  std::string data;
  WALSHIP_RETURN_IF_ERROR_CTX(ReadBody(body, size, &data), What("PUT", key));
  Request req;
  req.method = "PUT";
  req.key = key;
  req.headers = UploadHeaders(opts);
  if (tuning_.require_content_md5) req.headers.emplace_back("Content-MD5", Base64Encode(Md5(data)));
  if (opts.no_overwrite) req.headers.emplace_back("If-None-Match", "*");
  req.body = data;
  return client_->Call(req, What("PUT", key)).status();
}

Status S3Store::PutMultipart(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) {
  const std::string what = What("PUT", key) + " (multipart)";
  if ((size + tuning_.part_size - 1) / tuning_.part_size > kMaxParts) {
    return InvalidArgument(what + ": more than 10000 parts; raise part-size");
  }
  return Multipart(key, opts, what, [&](const std::string& upload_id, PartEtags* etags) {
    return UploadParts(key, upload_id, body, size, etags);
  });
}

Status S3Store::Multipart(const std::string& key, const PutOptions& opts, const std::string& what,
                          const std::function<Status(const std::string& upload_id, PartEtags* etags)>& parts) {
  Request create;
  create.method = "POST";
  create.key = key;
  create.query = {{"uploads", ""}};
  create.headers = UploadHeaders(opts);
  WALSHIP_ASSIGN_OR_RETURN(Response cr, client_->Call(create, what + ": create"));
  WALSHIP_ASSIGN_OR_RETURN(auto xml, ParseResponse(what + ": create", cr.body));
  const std::string upload_id = xml->ChildText("UploadId");
  if (upload_id.empty()) return Unavailable(what + ": create: no UploadId in the response", false);

  PartEtags etags;
  Status st = parts(upload_id, &etags);
  if (st.ok()) {
    std::sort(etags.begin(), etags.end());
    std::string complete_xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    for (const auto& [n, etag] : etags) {
      complete_xml +=
          "<Part><PartNumber>" + std::to_string(n) + "</PartNumber><ETag>" + XmlEscape(etag) + "</ETag></Part>";
    }
    complete_xml += "</CompleteMultipartUpload>";
    Request complete;
    complete.method = "POST";
    complete.key = key;
    complete.query = {{"uploadId", upload_id}};
    if (opts.no_overwrite) complete.headers.emplace_back("If-None-Match", "*");
    complete.body = complete_xml;
    auto resp = client_->Call(complete, what + ": complete");
    st = resp.ok() ? ErrorIn200(what + ": complete", resp->body) : resp.status();
    if (st.ok()) return st;
  }
  Request abort;
  abort.method = "DELETE";
  abort.key = key;
  abort.query = {{"uploadId", upload_id}};
  client_->Call(abort, what + ": abort").status().IgnoreError();  // best effort; lifecycle rules clean up
  return st;
}

Status S3Store::UploadParts(const std::string& key, const std::string& upload_id, Source* body, uint64_t size,
                            PartEtags* etags_out) {
  struct Part {
    int number = 0;
    std::string data;
    Status status;
    std::string etag;
    std::thread thread;
  };
  std::deque<std::unique_ptr<Part>> in_flight;
  PartEtags& etags = *etags_out;
  Status first_error;
  auto finish_oldest = [&] {
    std::unique_ptr<Part> p = std::move(in_flight.front());
    in_flight.pop_front();
    p->thread.join();
    if (!p->status.ok() && first_error.ok()) first_error = p->status;
    etags.emplace_back(p->number, p->etag);
  };
  uint64_t sent = 0;
  for (int number = 1; sent < size && first_error.ok(); number++) {
    while (in_flight.size() >= size_t(tuning_.concurrency)) finish_oldest();
    if (!first_error.ok()) break;
    auto part = std::make_unique<Part>();
    part->number = number;
    const uint64_t n = std::min<uint64_t>(tuning_.part_size, size - sent);
    Status rs = ReadBody(body, n, &part->data);
    if (!rs.ok()) {
      first_error = rs.WithContext(What("PUT", key) + " (multipart)");
      break;
    }
    sent += n;
    Part* p = part.get();
    p->thread = std::thread([this, p, &key, &upload_id] {
      Request req;
      req.method = "PUT";
      req.key = key;
      req.query = {{"partNumber", std::to_string(p->number)}, {"uploadId", upload_id}};
      if (tuning_.require_content_md5) req.headers.emplace_back("Content-MD5", Base64Encode(Md5(p->data)));
      req.body = p->data;
      auto resp = client_->Call(req, What("PUT", key) + " part " + std::to_string(p->number));
      if (!resp.ok()) {
        p->status = resp.status();
        return;
      }
      p->etag = resp->Get("etag");
      if (p->etag.empty()) p->status = Unavailable(What("PUT", key) + ": part without ETag", false);
    });
    in_flight.push_back(std::move(part));
  }
  while (!in_flight.empty()) finish_oldest();
  return first_error;
}

Status S3Store::CopyParts(const std::string& source, const std::string& key, const std::string& upload_id,
                          uint64_t size, PartEtags* etags) {
  // Parts of copy_part_size (more if 10000 would not cover the object),
  // `concurrency` at a time; the server moves the bytes.
  const uint64_t part = std::max<uint64_t>(tuning_.copy_part_size, (size + kMaxParts - 1) / kMaxParts);
  const size_t count = size_t((size + part - 1) / part);
  etags->resize(count);
  return ParallelFor(count, tuning_.concurrency, [&](size_t i) -> Status {
    const int n = int(i) + 1;
    const uint64_t from = i * part, to = std::min(size, from + part) - 1;
    const std::string what = What("COPY", key) + " part " + std::to_string(n);
    Request req;
    req.method = "PUT";
    req.key = key;
    req.query = {{"partNumber", std::to_string(n)}, {"uploadId", upload_id}};
    req.headers = {{"x-amz-copy-source", source},
                   {"x-amz-copy-source-range", "bytes=" + std::to_string(from) + "-" + std::to_string(to)}};
    WALSHIP_ASSIGN_OR_RETURN(Response resp, client_->Call(req, what));
    WALSHIP_RETURN_IF_ERROR(ErrorIn200(what, resp.body));  // <CopyPartResult>, or an <Error> inside a 200
    WALSHIP_ASSIGN_OR_RETURN(auto xml, ParseResponse(what, resp.body));
    (*etags)[i] = {n, xml->ChildText("ETag")};
    if ((*etags)[i].second.empty()) return Unavailable(what + ": no ETag in the response", false);
    return Status::OK();
  });
}

Status S3Store::Copy(const std::string& src, const std::string& dst, const PutOptions& opts) {
  if (src.empty() || dst.empty()) return InvalidArgument("s3 COPY: empty key");
  const std::string what = What("COPY", src) + " to " + dst;
  std::unique_ptr<KeyReservation> reservation;
  if (opts.no_overwrite) {
    reservation = std::make_unique<KeyReservation>(this, dst);
    // Unlike its PUT, moto's CopyObject ignores If-None-Match: look first
    // whatever check_before_put says (a copy is rare: one HEAD is cheap).
    if (!opts.absent_per_listing) {
      auto head = Head(dst);
      if (head.ok()) return AlreadyExists(what + ": object exists");
      if (head.status().code() != Code::kNotFound) return head.status();
    }
  }
  const std::string source = client_->config().bucket + "/" + UriEncode(src, /*encode_slash=*/false);
  // Its size decides between one CopyObject and a multipart copy (and a
  // missing source is kNotFound before anything is created).
  WALSHIP_ASSIGN_OR_RETURN(ObjectInfo info, Head(src));
  if (info.size > tuning_.max_single_copy) {
    return Multipart(dst, opts, what + " (multipart)", [&](const std::string& upload_id, PartEtags* etags) {
      return CopyParts(source, dst, upload_id, info.size, etags);
    });
  }
  Request req;
  req.method = "PUT";
  req.key = dst;
  req.headers = UploadHeaders(opts);
  req.headers.emplace_back("x-amz-copy-source", source);
  req.headers.emplace_back("x-amz-metadata-directive", "REPLACE");
  if (opts.no_overwrite) req.headers.emplace_back("If-None-Match", "*");
  WALSHIP_ASSIGN_OR_RETURN(Response resp, client_->Call(req, what));
  // A copy answers 200 first and may still fail while it runs: the error is
  // then the body.
  return ErrorIn200(what, resp.body);
}

Result<ObjectInfo> S3Store::Head(const std::string& key) {
  if (key.empty()) return InvalidArgument("s3 HEAD: empty key");
  Request req;
  req.method = "HEAD";
  req.key = key;
  WALSHIP_ASSIGN_OR_RETURN(Response resp, client_->Call(req, What("HEAD", key)));
  ObjectInfo info;
  info.key = key;
  const std::string len = resp.Get("content-length");
  info.size = len.empty() ? 0 : std::strtoull(len.c_str(), nullptr, 10);
  const std::string ts = resp.Get(kTimestampHeader);
  auto parsed = ts.empty() ? Result<int64_t>(InvalidArgument("none")) : ParseRfc3339(ts);
  info.mtime_ms = parsed.ok() ? *parsed : HttpDateMs(resp.Get("last-modified"));
  return info;
}

// Streams [next, end) of one object by ranged GETs of up to `chunk` bytes.
// Each GET runs on its own transfer thread and hands the body over through a
// bounded queue (kStreamBuffer), so an open read holds at most that much
// memory however large the range; the transfer waits while the reader does.
class S3Store::ObjectSource final : public Source {
 public:
  static constexpr size_t kStreamBuffer = 1 << 20;
  static constexpr size_t kReceiveBuffer = 256 << 10;
  static constexpr size_t kMinRing = 16 << 10;

  ObjectSource(std::shared_ptr<S3Client> client, std::string key, uint64_t offset, uint64_t end, uint64_t chunk)
      : client_(std::move(client)), key_(std::move(key)), next_(offset), end_(end), chunk_(chunk) {}
  ~ObjectSource() override { StopTransfer(); }

  Result<size_t> Read(void* buf, size_t n) override {
    if (n == 0) return size_t{0};
    for (;;) {
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return queued_ > 0 || done_ || !running_; });
        if (queued_ > 0) {
          size_t k = 0;
          while (k < n && queued_ > 0) {  // at most two runs: up to the ring's end, then from its start
            const size_t m = std::min({n - k, queued_, ring_.size() - head_});
            std::memcpy(static_cast<char*>(buf) + k, ring_.data() + head_, m);
            k += m;
            head_ = (head_ + m) % ring_.size();
            queued_ -= m;
          }
          next_ += k;
          cv_.notify_all();
          return k;
        }
      }
      // Queue empty and the GET finished (or none running): check how it
      // ended, then start the next one.
      if (eof_) return size_t{0};
      WALSHIP_RETURN_IF_ERROR(Finish());
      if (eof_) return size_t{0};
      WALSHIP_RETURN_IF_ERROR(Fetch());
    }
  }

  // Starts the ranged GET for [next_, ...) and waits for its first bytes or
  // its end, so a missing key fails here. Sets eof_ at the end. A read of a
  // whole object (offset 0, no length) is one GET without Range: servers
  // that read the object for every ranged GET (moto) answer it fastest, and
  // it is one request however large the object. A retry after part of it
  // resumes with a ranged GET.
  Status Fetch() {
    if (next_ >= end_) {
      eof_ = true;
      return Status::OK();
    }
    whole_ = next_ == 0 && end_ == UINT64_MAX;
    last_ = whole_ ? UINT64_MAX - 1 : std::min(end_ - 1, next_ + std::min<uint64_t>(chunk_, UINT64_MAX - next_) - 1);
    {
      std::lock_guard lk(mu_);
      done_ = false;
      running_ = true;
      started_ = false;
      skip_ = 0;
      limit_ = last_ - next_ + 1;
      got_ = 0;
      result_ = Status::OK();
      partial_ = Response{};
      final_ = Response{};
    }
    cancel_ = false;
    transfer_ = std::thread([this] { Transfer(); });
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return started_ || done_; });
    if (!started_) {
      lk.unlock();
      return Finish();
    }
    return Status::OK();
  }

 private:
  // The transfer thread.
  void Transfer() {
    Request req;
    req.method = "GET";
    req.key = key_;
    if (!whole_) req.headers.emplace_back("Range", "bytes=" + std::to_string(next_) + "-" + std::to_string(last_));
    if (!etag_.empty()) req.headers.emplace_back("If-Match", etag_);
    req.cancel = &cancel_;
    // A large range is received in big pieces (fewer recv calls and wake-ups
    // of the reader); small ones keep curl's default buffer.
    if (last_ - next_ + 1 >= kStreamBuffer) req.receive_buffer = kReceiveBuffer;
    const uint64_t first = next_;
    req.on_body = [this, first](const Response& head, const char* data, size_t n) { return OnBody(head, first, data, n); };
    Response partial;
    auto sent = client_->Send(req, What("GET", key_), &partial);
    std::lock_guard lk(mu_);
    if (sent.ok()) final_ = std::move(sent).value();
    else {
      result_ = sent.status();
      partial_ = std::move(partial);
    }
    done_ = true;
    cv_.notify_all();
  }

  // Body bytes of a 2xx response: checked on the first call, then queued.
  bool OnBody(const Response& head, uint64_t first, const char* data, size_t n) {
    std::unique_lock lk(mu_);
    if (!started_) {
      started_ = true;
      if (etag_.empty()) etag_ = head.Get("etag");
      if (head.status == 200) {
        // The server ignored Range: the whole object comes; skip to `first`.
        skip_ = first;
        const std::string len = head.Get("content-length");
        if (!len.empty()) total_ = std::strtoull(len.c_str(), nullptr, 10);
      } else {
        const std::string range = head.Get("content-range");  // "bytes a-b/total"
        unsigned long long a = 0, b = 0, total = 0;
        if (std::sscanf(range.c_str(), "bytes %llu-%llu/%llu", &a, &b, &total) != 3 || a != first || b < a) {
          bad_range_ = "bad Content-Range \"" + range + "\"";
          cv_.notify_all();
          return false;
        }
        total_ = total;
      }
      cv_.notify_all();
    }
    // Drop what the reader did not ask for (Range ignored, or more than asked).
    if (skip_ > 0) {
      const size_t d = size_t(std::min<uint64_t>(skip_, n));
      skip_ -= d;
      data += d;
      n -= d;
    }
    if (got_ + n > limit_) n = size_t(limit_ - got_);
    if (n == 0) return !cancel_;
    // Once per open read (no allocation churn), no larger than its first
    // GET asks for: a small ranged read holds a small ring.
    if (ring_.empty()) ring_.resize(size_t(std::min<uint64_t>(kStreamBuffer, std::max<uint64_t>(limit_, kMinRing))));
    while (n > 0) {
      cv_.wait(lk, [&] { return queued_ < ring_.size() || cancel_.load(); });
      if (cancel_) return false;
      const size_t tail = (head_ + queued_) % ring_.size();
      const size_t m = std::min({n, ring_.size() - queued_, ring_.size() - tail});
      std::memcpy(ring_.data() + tail, data, m);
      queued_ += m;
      got_ += m;
      data += m;
      n -= m;
      cv_.notify_all();
    }
    return true;
  }

  // After the transfer thread ended: how did the GET end?
  Status Finish() {
    if (transfer_.joinable()) transfer_.join();
    running_ = false;
    const std::string what = What("GET", key_);
    if (!bad_range_.empty()) return Unavailable(what + ": " + bad_range_, false);
    if (!result_.ok()) {
      // s3rver answers a ranged GET of an empty object with "Content-Range:
      // bytes 0-0/0" and Content-Length 1, then sends nothing: still empty.
      unsigned long long a = 0, b = 0, total = 0;
      if (partial_.status == 206 &&
          std::sscanf(partial_.Get("content-range").c_str(), "bytes %llu-%llu/%llu", &a, &b, &total) == 3 &&
          total == 0) {
        eof_ = true;
        return Status::OK();
      }
      // Bytes already handed over stay consumed: a retrying caller resumes at next_.
      return result_;
    }
    const Response& resp = final_;
    if (resp.status == 416) {  // the object exists; the range starts at or past its end
      eof_ = true;
      return Status::OK();
    }
    if (resp.status == 412 && !etag_.empty()) {
      return Unavailable(what + ": the object changed while it was being read", false);
    }
    if (resp.status != 200 && resp.status != 206) return TranslateError(what, 0, nullptr, resp.status, resp.body);
    if (!started_) {  // no body at all: learn the size from the headers
      unsigned long long a = 0, b = 0, total = 0;
      if (resp.status == 200 && !resp.Get("content-length").empty()) {
        total_ = std::strtoull(resp.Get("content-length").c_str(), nullptr, 10);
      } else if (std::sscanf(resp.Get("content-range").c_str(), "bytes %llu-%llu/%llu", &a, &b, &total) == 3) {
        total_ = total;
      }
    }
    if (total_ != UINT64_MAX) end_ = std::min<uint64_t>(end_, total_);
    const uint64_t want = std::min<uint64_t>(limit_, end_ > next_ - got_ ? end_ - (next_ - got_) : 0);
    if (got_ < want) {
      return Unavailable(what + ": the response ended after " + std::to_string(got_) + " of " +
                             std::to_string(want) + " bytes", true);
    }
    if (next_ >= end_) eof_ = true;
    return Status::OK();
  }

  void StopTransfer() {
    cancel_ = true;
    {
      std::lock_guard lk(mu_);
      cv_.notify_all();
    }
    if (transfer_.joinable()) transfer_.join();
  }

  std::shared_ptr<S3Client> client_;
  std::string key_;
  uint64_t next_;  // offset of the next byte handed to Read
  uint64_t end_;   // exclusive; UINT64_MAX until the size is known
  uint64_t chunk_;
  bool whole_ = false;  // this GET is of the whole object (no Range)
  uint64_t last_ = 0;  // last byte of the current GET
  std::string etag_;
  bool eof_ = false;
  bool running_ = false;  // a GET was started and not yet Finish()ed
  std::thread transfer_;
  std::atomic<bool> cancel_{false};
  std::mutex mu_;  // guards the fields below, shared with the transfer thread
  std::condition_variable cv_;
  std::vector<char> ring_;  // up to kStreamBuffer bytes once the first body bytes arrive
  size_t head_ = 0;         // next byte to hand to Read
  size_t queued_ = 0;       // bytes in the ring from head_
  bool started_ = false;
  bool done_ = false;
  uint64_t skip_ = 0;
  uint64_t limit_ = 0;  // bytes wanted from this GET
  uint64_t got_ = 0;    // bytes queued from this GET
  uint64_t total_ = UINT64_MAX;
  std::string bad_range_;
  Status result_;
  Response partial_;
  Response final_;
};

Result<std::unique_ptr<Source>> S3Store::Open(const std::string& key, uint64_t offset, std::optional<uint64_t> length) {
  if (key.empty()) return InvalidArgument("s3 GET: empty key");
  if (length.has_value() && *length == 0) {
    WALSHIP_RETURN_IF_ERROR(Head(key).status());
    return std::unique_ptr<Source>(std::make_unique<StringSource>(""));
  }
  uint64_t end = length.has_value() && *length <= UINT64_MAX - offset ? offset + *length : UINT64_MAX;
  if (tuning_.head_before_get) {
    WALSHIP_ASSIGN_OR_RETURN(ObjectInfo info, Head(key));
    end = std::min(end, info.size);
    if (offset >= end) return std::unique_ptr<Source>(std::make_unique<StringSource>(""));
  }
  auto src = std::make_unique<ObjectSource>(client_, key, offset, end, tuning_.read_chunk);
  WALSHIP_RETURN_IF_ERROR(src->Fetch());  // so a missing key fails here
  return std::unique_ptr<Source>(std::move(src));
}

Result<std::vector<ObjectInfo>> S3Store::List(const std::string& prefix, const std::string& start_after) {
  std::vector<ObjectInfo> out;
  const std::string what = "s3 LIST " + prefix;
  const std::string server_start = Utf8Prefix(start_after);
  std::string token;
  for (;;) {
    Request req;
    req.method = "GET";
    req.query = {{"list-type", "2"}, {"prefix", prefix}};
    if (!token.empty()) {
      req.query.emplace_back("continuation-token", token);
    } else if (!server_start.empty()) {
      req.query.emplace_back("start-after", server_start);
    }
    req.max_response_bytes = 16 << 20;
    WALSHIP_ASSIGN_OR_RETURN(Response resp, client_->Call(req, what));
    auto xml = ParseResponse(what, resp.body);
    if (!xml.ok()) return xml.status();
    for (const XmlNode* c : (*xml)->Children("Contents")) {
      ObjectInfo info;
      info.key = c->ChildText("Key");
      if (info.key.compare(0, prefix.size(), prefix) != 0 || info.key <= start_after) continue;
      info.size = std::strtoull(c->ChildText("Size").c_str(), nullptr, 10);
      auto t = ParseRfc3339(c->ChildText("LastModified"));
      info.mtime_ms = t.ok() ? *t : 0;
      out.push_back(std::move(info));
    }
    if ((*xml)->ChildText("IsTruncated") != "true") break;
    const std::string next = (*xml)->ChildText("NextContinuationToken");
    if (next.empty() || next == token) {
      return Unavailable(what + ": truncated listing without a new continuation token", false);
    }
    token = next;
  }
  // Servers return key order; sort anyway so the contract never depends on it.
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  out.erase(
      std::unique(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key == b.key; }),
      out.end());
  return out;
}

Status S3Store::Delete(const std::vector<std::string>& keys) {
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (size_t i = 0; i < sorted.size(); i += kDeleteBatch) {
    const size_t n = std::min(kDeleteBatch, sorted.size() - i);
    WALSHIP_RETURN_IF_ERROR(
        DeleteBatch(std::vector<std::string>(sorted.begin() + long(i), sorted.begin() + long(i + n))));
  }
  return Status::OK();
}

Status S3Store::DeleteBatch(const std::vector<std::string>& keys) {
  std::string body = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>";
  for (const std::string& k : keys) {
    if (k.empty()) return InvalidArgument("s3 DELETE: empty key");
    body += "<Object><Key>" + XmlEscape(k) + "</Key></Object>";
  }
  body += "</Delete>";
  const std::string what =
      "s3 DELETE " + keys.front() + (keys.size() > 1 ? " (+" + std::to_string(keys.size() - 1) + " keys)" : "");
  Request req;
  req.method = "POST";
  req.query = {{"delete", ""}};
  if (tuning_.require_content_md5) req.headers.emplace_back("Content-MD5", Base64Encode(Md5(body)));
  req.body = body;
  req.max_response_bytes = 16 << 20;
  WALSHIP_ASSIGN_OR_RETURN(Response resp, client_->Call(req, what));
  auto xml = ParseResponse(what, resp.body);
  if (!xml.ok()) return xml.status();
  if ((*xml)->name == "Error") return ErrorIn200(what, resp.body);
  for (const XmlNode* e : (*xml)->Children("Error")) {
    const std::string code = e->ChildText("Code");
    if (code == "NoSuchKey") continue;
    const bool retryable = code == "InternalError" || code == "SlowDown" || code == "ServiceUnavailable";
    return Unavailable(what + ": " + e->ChildText("Key") + ": " + code + ": " + e->ChildText("Message"), retryable);
  }
  return Status::OK();
}

}  // namespace walship::storage::s3
