#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "storage/s3/s3_client.h"
#include "storage/s3/xml.h"

namespace walship::storage::s3 {
namespace {

TEST(Xml, ParsesListObjectsV2) {
  const std::string body = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>db/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>
  <IsTruncated>true</IsTruncated><NextContinuationToken>tok+/=</NextContinuationToken>
  <Contents><Key>db/a &amp; b</Key><LastModified>2024-03-01T12:34:56.000Z</LastModified><Size>10</Size></Contents>
  <Contents><Key>db/&#xE9;</Key><Size>0</Size></Contents>
</ListBucketResult>)";
  auto xml = ParseXml(body);
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_EQ((*xml)->name, "ListBucketResult");
  EXPECT_EQ((*xml)->ChildText("IsTruncated"), "true");
  EXPECT_EQ((*xml)->ChildText("NextContinuationToken"), "tok+/=");
  auto contents = (*xml)->Children("Contents");
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(contents[0]->ChildText("Key"), "db/a & b");
  EXPECT_EQ(contents[0]->ChildText("Size"), "10");
  EXPECT_EQ(contents[1]->ChildText("Key"), "db/\xc3\xa9");
  EXPECT_EQ(contents[1]->Child("LastModified"), nullptr);
  EXPECT_EQ(contents[1]->ChildText("Missing"), "");
}

TEST(Xml, RejectsMalformedInput) {
  for (const std::string bad : {"", "<a>", "<a></b>", "not xml", "<a><b></a></b>", "<a/><b/>"}) {
    auto xml = ParseXml(bad);
    EXPECT_FALSE(xml.ok()) << bad;
    if (!xml.ok()) {
      EXPECT_EQ(xml.status().code(), Code::kCorruption);
    }
  }
  std::string deep;
  for (int i = 0; i < 100; i++) deep += "<a>";
  for (int i = 0; i < 100; i++) deep += "</a>";
  EXPECT_FALSE(ParseXml(deep).ok());
}

TEST(Xml, EscapeRoundTrips) {
  const std::string key = "a<b>&\"c'\td\n";
  auto xml = ParseXml("<Key>" + XmlEscape(key) + "</Key>");
  ASSERT_TRUE(xml.ok());
  EXPECT_EQ((*xml)->text, key);
}

const char* kErr =
    "<?xml version=\"1.0\"?><Error><Code>%s</Code><Message>msg here</Message><RequestId>r</RequestId></Error>";
std::string ErrBody(const std::string& code) {
  char buf[512];
  std::snprintf(buf, sizeof buf, kErr, code.c_str());
  return buf;
}

TEST(TranslateError, MapsStatusAndS3Codes) {
  struct Case {
    long status;
    std::string code;
    Code want;
    bool retryable;
  };
  const std::vector<Case> cases = {
      {500, "InternalError", Code::kUnavailable, true},
      {503, "SlowDown", Code::kUnavailable, true},
      {502, "", Code::kUnavailable, true},
      {429, "", Code::kUnavailable, true},
      {408, "", Code::kUnavailable, true},
      {400, "RequestTimeout", Code::kUnavailable, true},
      {409, "ConditionalRequestConflict", Code::kUnavailable, true},
      {409, "OperationAborted", Code::kUnavailable, true},
      {400, "ThrottlingException", Code::kUnavailable, true},
      {400, "RequestTimeTooSkewed", Code::kUnavailable, false},
      {400, "ExpiredToken", Code::kUnavailable, false},
      {404, "NoSuchKey", Code::kNotFound, false},
      {404, "", Code::kNotFound, false},
      {404, "NoSuchBucket", Code::kFailedPrecondition, false},
      {412, "PreconditionFailed", Code::kAlreadyExists, false},
      {403, "AccessDenied", Code::kUnavailable, false},
      {403, "SignatureDoesNotMatch", Code::kUnavailable, false},
      {400, "InvalidArgument", Code::kUnavailable, false},
      {501, "NotImplemented", Code::kUnimplemented, false},
      {501, "", Code::kUnimplemented, false},
  };
  for (const Case& c : cases) {
    Status s = TranslateError("s3 PUT db/0000/x.ltx", 0, nullptr, c.status, c.code.empty() ? "" : ErrBody(c.code));
    EXPECT_EQ(s.code(), c.want) << c.status << " " << c.code << ": " << s.ToString();
    EXPECT_EQ(s.retryable(), c.retryable) << c.status << " " << c.code;
  }
  Status s = TranslateError("s3 PUT db/0000/x.ltx", 0, nullptr, 403, ErrBody("AccessDenied"));
  EXPECT_EQ(s.message(), "s3 PUT db/0000/x.ltx: 403 AccessDenied: msg here");
}

TEST(TranslateError, MapsTransportFailures) {
  for (int code : {6 /*resolve*/, 7 /*connect*/, 28 /*timeout*/, 52 /*empty reply*/, 55 /*send*/, 56 /*recv*/}) {
    Status s = TranslateError("s3 GET k", code, "detail", 0, "");
    EXPECT_EQ(s.code(), Code::kUnavailable) << code;
    EXPECT_TRUE(s.retryable()) << code;
    EXPECT_NE(s.message().find("detail"), std::string::npos);
  }
  Status tls = TranslateError("s3 GET k", 60 /*peer verification*/, "", 0, "");
  EXPECT_EQ(tls.code(), Code::kUnavailable);
  EXPECT_FALSE(tls.retryable());
}

TEST(S3Client, BuildsPathAndVirtualHostUrls) {
  ClientConfig c;
  c.endpoint = "http://127.0.0.1:9000";
  c.bucket = "bkt";
  c.force_path_style = true;
  S3Client path(c);
  Request r;
  r.key = "db/0000/a b+c.ltx";
  r.query = {{"partNumber", "1"}, {"uploadId", "x/y=z"}};
  EXPECT_EQ(path.UrlFor(r), "http://127.0.0.1:9000/bkt/db/0000/a%20b%2Bc.ltx?partNumber=1&uploadId=x%2Fy%3Dz");
  Request bucket_op;
  bucket_op.query = {{"list-type", "2"}, {"prefix", "a/b"}};
  EXPECT_EQ(path.UrlFor(bucket_op), "http://127.0.0.1:9000/bkt?list-type=2&prefix=a%2Fb");

  c.endpoint = "";
  c.region = "eu-west-1";
  c.force_path_style = false;
  S3Client vhost(c);
  EXPECT_EQ(vhost.UrlFor(r).substr(0, 50), "https://bkt.s3.eu-west-1.amazonaws.com/db/0000/a%2");
  EXPECT_EQ(vhost.UrlFor(bucket_op), "https://bkt.s3.eu-west-1.amazonaws.com/?list-type=2&prefix=a%2Fb");
  c.bucket = "dotted.bucket";
  S3Client dotted(c);  // TLS wildcard certificates do not cover dots: path style
  EXPECT_EQ(dotted.UrlFor(bucket_op), "https://s3.eu-west-1.amazonaws.com/dotted.bucket?list-type=2&prefix=a%2Fb");
  c.creds = {"AKIDSECRETISH", "the-secret", "tok"};
  EXPECT_EQ(S3Client(c).Describe().find("the-secret"), std::string::npos);
  c.endpoint = "https://user:pw-secret@minio.example:9000";
  c.force_path_style = true;
  S3Client userinfo(c);
  EXPECT_EQ(userinfo.Describe().find("pw-secret"), std::string::npos) << userinfo.Describe();
  EXPECT_EQ(userinfo.UrlFor(bucket_op).find("pw-secret"), std::string::npos);
}

TEST(S3Client, ConnectionRefusedIsRetryable) {
  ClientConfig c;
  c.endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
  c.bucket = "bkt";
  c.force_path_style = true;
  c.creds = {"id", "secret", ""};
  S3Client client(c);
  Request r;
  r.method = "GET";
  r.key = "k";
  auto resp = client.Call(r, "s3 GET k");
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), Code::kUnavailable);
  EXPECT_TRUE(resp.status().retryable());
  EXPECT_EQ(resp.status().message().find("secret"), std::string::npos);
}

// A one-trick S3 on loopback: a bucket in eu-west-3 that answers requests
// signed for any other region with 400 AuthorizationHeaderMalformed.
class WrongRegionServer {
 public:
  explicit WrongRegionServer(bool region_header) : region_header_(region_header) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 8);
    thread_ = std::thread([this] { Serve(); });
  }
  ~WrongRegionServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int wrong() const { return wrong_; }
  int right() const { return right_; }

 private:
  void Serve() {
    for (;;) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      for (;;) {
        const size_t end = in.find("\r\n\r\n");
        if (end != std::string::npos) {
          const std::string head = in.substr(0, end);
          in.erase(0, end + 4);
          const bool ok = head.find("/eu-west-3/s3/aws4_request") != std::string::npos;
          (ok ? right_ : wrong_)++;
          const std::string body =
              ok ? ""
                 : "<Error><Code>AuthorizationHeaderMalformed</Code><Message>wrong region</Message>"
                   "<Region>eu-west-3</Region></Error>";
          std::string out = ok ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 400 Bad Request\r\n";
          if (!ok && region_header_) out += "x-amz-bucket-region: eu-west-3\r\n";
          out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
          if (::send(c, out.data(), out.size(), MSG_NOSIGNAL) < 0) break;
          continue;
        }
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, size_t(n));
      }
      ::close(c);
    }
  }

  bool region_header_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> wrong_{0}, right_{0};
  std::thread thread_;
};

TEST(S3Client, FollowsTheBucketRegionWhenNoneWasConfigured) {
  for (bool header : {true, false}) {
    WrongRegionServer server(header);
    ClientConfig c;
    c.endpoint = "http://127.0.0.1:" + std::to_string(server.port());
    c.bucket = "bkt";
    c.force_path_style = true;
    c.creds = {"id", "secret", ""};
    c.follow_bucket_region = true;
    S3Client client(c);
    Request r;
    r.method = "GET";
    r.key = "k";
    auto first = client.Call(r, "s3 GET k");
    EXPECT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ(client.region(), "eu-west-3");
    EXPECT_TRUE(client.Call(r, "s3 GET k").ok());
    EXPECT_EQ(server.wrong(), 1) << "header " << header;
    EXPECT_EQ(server.right(), 2);
    EXPECT_NE(client.Describe().find("eu-west-3"), std::string::npos);
  }
}

TEST(S3Client, AConfiguredRegionIsKeptAndTheErrorNamesTheRightOne) {
  WrongRegionServer server(true);
  ClientConfig c;
  c.endpoint = "http://127.0.0.1:" + std::to_string(server.port());
  c.bucket = "bkt";
  c.force_path_style = true;
  c.creds = {"id", "secret", ""};
  c.region = "us-west-1";
  S3Client client(c);
  Request r;
  r.method = "GET";
  r.key = "k";
  auto resp = client.Call(r, "s3 GET k");
  ASSERT_FALSE(resp.ok());
  EXPECT_FALSE(resp.status().retryable());
  EXPECT_NE(resp.status().message().find("400 AuthorizationHeaderMalformed"), std::string::npos);
  EXPECT_NE(resp.status().message().find("the bucket is in region eu-west-3"), std::string::npos)
      << resp.status().ToString();
  EXPECT_EQ(client.region(), "us-west-1");
}

}  // namespace
}  // namespace walship::storage::s3
