#include "storage/s3/s3_client.h"

#include <curl/curl.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "storage/s3/xml.h"

namespace walship::storage::s3 {
namespace {

constexpr const char* kUserAgent = "walship/0.1 (litestream-compatible)";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// AWS's regional S3 host.
std::string AwsHost(const std::string& region) {
  return region == "us-east-1" ? "s3.amazonaws.com" : "s3." + region + ".amazonaws.com";
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Host part of "host", "host:port" or "[v6]:port".
std::string HostOnly(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    const size_t end = authority.find(']');
    return std::string(authority.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
  }
  return std::string(authority.substr(0, authority.find(':')));
}

bool IsLocalHost(const std::string& host) {
  const std::string h = Lower(host);
  auto starts = [&](const char* p) { return h.rfind(p, 0) == 0; };
  auto ends = [&](const char* p) {
    const size_t n = std::strlen(p);
    return h.size() >= n && h.compare(h.size() - n, n, p) == 0;
  };
  if (h == "localhost" || ends(".localhost") || ends(".local") || h == "::1") return true;
  if (starts("127.") || starts("10.") || starts("192.168.") || starts("169.254.")) return true;
  if (starts("172.")) {
    const int second = std::atoi(h.c_str() + 4);
    return second >= 16 && second <= 31;
  }
  return starts("fd") && h.find(':') != std::string::npos;  // IPv6 unique local
}

// Status-line-independent parts of an S3 error body.
void ParseErrorBody(std::string_view body, std::string* code, std::string* message) {
  if (body.empty() || body.size() > (1 << 20)) return;
  auto xml = ParseXml(body);
  if (!xml.ok()) return;
  const XmlNode* root = xml->get();
  if (root->name != "Error") {
    root = root->Child("Error");
    if (root == nullptr) return;
  }
  *code = root->ChildText("Code");
  *message = root->ChildText("Message");
}

bool RetryableCurl(int code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
      return true;
    default:
      return false;
  }
}

struct Transfer {
  std::string_view upload;
  size_t upload_pos = 0;
  Response* resp = nullptr;
  size_t max_body = 0;
  bool body_too_long = false;
  CURL* curl = nullptr;
  const Request* req = nullptr;
};

size_t WriteCb(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * nmemb;
  if (t->req->on_body) {
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status <= 299) {
      t->resp->status = status;
      return t->req->on_body(*t->resp, ptr, n) ? n : 0;
    }
  }
  if (t->resp->body.size() + n > t->max_body) {
    t->body_too_long = true;
    return 0;  // aborts the transfer
  }
  t->resp->body.append(ptr, n);
  return n;
}

int CancelCb(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

size_t ReadCb(char* buf, size_t size, size_t nitems, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = std::min(size * nitems, t->upload.size() - t->upload_pos);
  std::memcpy(buf, t->upload.data() + t->upload_pos, n);
  t->upload_pos += n;
  return n;
}

size_t HeaderCb(char* ptr, size_t size, size_t nitems, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * nitems;
  std::string_view line(ptr, n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->resp->headers.clear();  // a new response (after 100 Continue or a redirect)
    return n;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->resp->headers.emplace_back(Lower(Trim(line.substr(0, colon))), std::string(Trim(line.substr(colon + 1))));
  }
  return n;
}

}  // namespace

std::string Response::Get(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

Status TranslateError(std::string_view what, int curl_code, const char* curl_detail, long http_status,
                      std::string_view body) {
  const std::string w(what);
  if (curl_code != CURLE_OK) {
    std::string msg = w + ": " + curl_easy_strerror(CURLcode(curl_code));
    if (curl_detail != nullptr && *curl_detail != '\0') msg += std::string(" (") + curl_detail + ")";
    return Unavailable(msg, RetryableCurl(curl_code));
  }
  std::string code, message;
  ParseErrorBody(body, &code, &message);
  std::string msg = w + ": " + std::to_string(http_status);
  if (!code.empty()) msg += " " + code;
  if (!message.empty()) msg += ": " + message;
  // The server has no such operation (s3rver's UploadPartCopy): no retry helps.
  if (http_status == 501 || code == "NotImplemented") return Unimplemented(msg);
  if (http_status >= 500 || http_status == 408 || http_status == 429 || code == "SlowDown" ||
      code == "RequestTimeout" || code == "InternalError" || code == "ServiceUnavailable" ||
      code == "ConditionalRequestConflict" || code == "OperationAborted" || code == "Throttling" ||
      code == "ThrottlingException" || code == "RequestThrottled") {
    return Unavailable(msg, true);
  }
  if (http_status == 404) {
    if (code == "NoSuchBucket") return FailedPrecondition(msg);
    return NotFound(msg);
  }
  if (http_status == 412) return AlreadyExists(msg);
  return Unavailable(msg, false);
}

std::string EndpointWithScheme(const std::string& endpoint) {
  if (endpoint.empty() || endpoint.find("://") != std::string::npos) return endpoint;
  const std::string authority = endpoint.substr(0, endpoint.find('/'));
  return (IsLocalHost(HostOnly(authority)) ? "http://" : "https://") + endpoint;
}

struct S3Client::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

S3Client::S3Client(ClientConfig config) : config_(std::move(config)) {
  GlobalInit();
  default_endpoint_ = config_.endpoint.empty();
  const std::string ep =
      EndpointWithScheme(default_endpoint_ ? "https://" + AwsHost(config_.region) : config_.endpoint);
  const size_t se = ep.find("://");
  scheme_ = Lower(ep.substr(0, se));
  std::string authority = ep.substr(se + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  // User info in an endpoint would become HTTP basic auth and show in Describe(): drop it.
  if (const size_t at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  target_ = {config_.region, authority};
  // Dotted bucket names cannot use virtual hosts over TLS (the wildcard
  // certificate does not match), as the AWS SDKs also fall back.
  virtual_host_ = !config_.force_path_style && !(scheme_ == "https" && config_.bucket.find('.') != std::string::npos);
  if (config_.ca_bundle.empty()) {
    const char* env = std::getenv("AWS_CA_BUNDLE");
    if (env != nullptr) config_.ca_bundle = env;
  }
}

S3Client::~S3Client() = default;

S3Client::Target S3Client::CurrentTarget() const {
  std::lock_guard<std::mutex> lock(target_mu_);
  return target_;
}

std::string S3Client::region() const { return CurrentTarget().region; }

bool S3Client::FollowRegion(const Response& resp) {
  if (!config_.follow_bucket_region) return false;
  std::string region = resp.Get("x-amz-bucket-region");
  if (region.empty() && !resp.body.empty() && resp.body.size() < (1 << 20)) {
    auto xml = ParseXml(resp.body);
    if (xml.ok()) region = (*xml)->ChildText("Region");
  }
  if (region.empty() || region.find_first_of("/:@ ") != std::string::npos) return false;
  std::lock_guard<std::mutex> lock(target_mu_);
  if (region == target_.region) return false;
  target_.region = region;
  if (default_endpoint_) target_.authority = AwsHost(region);
  return true;
}

std::string S3Client::HostHeader(const Target& t) const {
  return virtual_host_ ? config_.bucket + "." + t.authority : t.authority;
}

std::string S3Client::CanonicalPath(const std::string& key) const {
  std::string path = virtual_host_ ? "/" : "/" + config_.bucket;
  if (!key.empty()) {
    if (!virtual_host_) path += "/";
    path += UriEncode(key, false);
  }
  return path;
}

std::string S3Client::UrlFor(const Request& req) const { return UrlFor(req, CurrentTarget()); }

std::string S3Client::UrlFor(const Request& req, const Target& t) const {
  std::string url = scheme_ + "://" + HostHeader(t) + CanonicalPath(req.key);
  for (size_t i = 0; i < req.query.size(); i++) {
    url += i == 0 ? '?' : '&';
    url += UriEncode(req.query[i].first, true);
    url += "=" + UriEncode(req.query[i].second, true);
  }
  return url;
}

std::string S3Client::Describe() const {
  const Target t = CurrentTarget();
  std::string d = "s3://" + config_.bucket + " (endpoint " + scheme_ + "://" + t.authority + ", region " + t.region;
  if (!virtual_host_) d += ", path style";
  return d + ")";
}

std::unique_ptr<S3Client::Handle> S3Client::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      auto h = std::move(idle_.back());
      idle_.pop_back();
      curl_easy_reset(h->curl);  // keeps the connection cache
      return h;
    }
  }
  auto h = std::make_unique<Handle>();
  h->curl = curl_easy_init();
  return h;
}

void S3Client::Release(std::unique_ptr<Handle> h) {
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < config_.max_idle_handles) idle_.push_back(std::move(h));
}

Result<Response> S3Client::Send(const Request& req, std::string_view what, Response* partial) {
  WALSHIP_ASSIGN_OR_RETURN(Response resp, SendOnce(req, what, partial));
  if ((resp.status == 301 || resp.status == 400 || resp.status == 403) && FollowRegion(resp)) {
    return SendOnce(req, what, partial);  // again, to the bucket's own region
  }
  return resp;
}

Result<Response> S3Client::SendOnce(const Request& req, std::string_view what, Response* partial) {
  std::unique_ptr<Handle> h = Acquire();
  if (h->curl == nullptr) return Internal(std::string(what) + ": curl_easy_init failed");
  CURL* c = h->curl;

  SigningInput si;
  si.method = req.method;
  si.canonical_uri = CanonicalPath(req.key);
  si.query = req.query;
  si.headers = req.headers;
  const Target target = CurrentTarget();
  si.headers.emplace_back("host", HostHeader(target));
  for (const Header& eh : config_.extra_headers) si.headers.push_back(eh);
  si.payload_hash = config_.sign_payload ? PayloadHash(req.body) : "UNSIGNED-PAYLOAD";
  const SigningResult signed_req =
      SignV4(si, target.region, config_.service, int64_t(std::time(nullptr)), config_.creds);

  struct curl_slist* hdrs = nullptr;
  auto add = [&](const std::string& k, const std::string& v) {
    hdrs = curl_slist_append(hdrs, v.empty() ? (k + ";").c_str() : (k + ": " + v).c_str());
  };
  for (const Header& hd : req.headers) add(hd.first, hd.second);
  for (const Header& hd : config_.extra_headers) add(hd.first, hd.second);
  for (const Header& hd : signed_req.headers) add(hd.first, hd.second);
  hdrs = curl_slist_append(hdrs, "Expect:");  // no 100-continue round trip
  if (req.method == "POST") {
    bool has_type = false;
    for (const Header& hd : req.headers) has_type = has_type || Lower(hd.first) == "content-type";
    if (!has_type) hdrs = curl_slist_append(hdrs, "Content-Type: application/xml");
  }

  Response resp;
  Transfer t;
  t.upload = req.body;
  t.resp = &resp;
  t.max_body = req.max_response_bytes;
  t.curl = c;
  t.req = &req;
  char errbuf[CURL_ERROR_SIZE] = {0};
  const std::string url = UrlFor(req, target);

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_USERAGENT, kUserAgent);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, config_.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, config_.low_speed_time_s);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteCb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, HeaderCb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  // Set on every call: pooled handles keep options from their last use.
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, long(req.receive_buffer != 0 ? req.receive_buffer : CURL_MAX_WRITE_SIZE));
  if (req.cancel != nullptr) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, CancelCb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, req.cancel);
  } else {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
  }
  if (scheme_ == "https") {
    if (config_.skip_verify) {
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!config_.ca_bundle.empty()) {
      curl_easy_setopt(c, CURLOPT_CAINFO, config_.ca_bundle.c_str());
    }
  }
  if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadCb);
    curl_easy_setopt(c, CURLOPT_READDATA, &t);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, curl_off_t(req.body.size()));
  } else if (req.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(req.body.size()));
  } else if (req.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(hdrs);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  resp.status = status;
  if (rc == CURLE_OK) Release(std::move(h));  // a failed handle's connection is not reused
  if (t.body_too_long) {
    return Unavailable(std::string(what) + ": response body longer than " + std::to_string(req.max_response_bytes) +
                           " bytes (HTTP " + std::to_string(status) + ")",
                       false);
  }
  if (rc != CURLE_OK) {
    if (partial != nullptr) *partial = std::move(resp);
    return TranslateError(what, rc, errbuf, status, "");
  }
  return resp;
}

Result<Response> S3Client::Call(const Request& req, std::string_view what) {
  WALSHIP_ASSIGN_OR_RETURN(Response resp, Send(req, what));
  if (resp.status >= 200 && resp.status <= 299) return resp;
  Status st = TranslateError(what, CURLE_OK, nullptr, resp.status, resp.body);
  const std::string region = resp.Get("x-amz-bucket-region");
  if (!region.empty() && region != CurrentTarget().region) {
    st = Status(st.code(), st.message() + " (the bucket is in region " + region + "; set region)", st.retryable());
  }
  return st;
}

}  // namespace walship::storage::s3
