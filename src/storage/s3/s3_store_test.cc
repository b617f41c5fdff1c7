// S3Store behaviour beyond the shared contract (tests/contract runs that on
// moto and s3rver too): server-side conditional writes, metadata format,
// multipart abort, emulator quirks, error translation end to end.

#include "storage/s3/s3_store.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>

#include "base/file.h"
#include "storage/s3/emulator_for_test.h"
#include "storage/s3/xml.h"

namespace walship::storage::s3 {
namespace {

class FailingSource final : public Source {
 public:
  FailingSource(size_t good) : good_(good) {}
  Result<size_t> Read(void* buf, size_t n) override {
    if (pos_ >= good_) return IOError("injected read failure");
    const size_t k = std::min(n, good_ - pos_);
    std::fill_n(static_cast<char*>(buf), k, 'z');
    pos_ += k;
    return k;
  }

 private:
  size_t good_;
  size_t pos_ = 0;
};

class S3StoreOn : public ::testing::Test {
 protected:
  void Start(S3Emulator::Kind kind) {
    auto emu = S3Emulator::Start(kind, WALSHIP_SOURCE_DIR);
    if (emu.status().code() == Code::kFailedPrecondition) GTEST_SKIP() << emu.status().ToString();
    ASSERT_TRUE(emu.ok()) << emu.status().ToString();
    emu_ = std::move(emu).value();
    auto client = emu_->NewBucket("walship-test");
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = *client;
  }
  std::unique_ptr<S3Store> Store(S3Store::Tuning t) { return std::make_unique<S3Store>(client_, t); }

  std::unique_ptr<S3Emulator> emu_;
  std::shared_ptr<S3Client> client_;
};

class S3StoreOnMoto : public S3StoreOn {
 protected:
  void SetUp() override { Start(S3Emulator::Kind::kMoto); }
};

class S3StoreOnS3rver : public S3StoreOn {
 protected:
  void SetUp() override { Start(S3Emulator::Kind::kS3rver); }
};

// A server that exits at start: the error quotes the end of its log, since
// the log's directory goes with the emulator that the failed Start destroys.
TEST(S3EmulatorStart, AServerThatExitsAtStartIsQuotedFromItsLog) {
  char dir[] = "/tmp/walship-fake-moto-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string script = std::string(dir) + "/moto_server";
  ASSERT_TRUE(WriteFileAtomic(script, "#!/bin/sh\necho 'fake moto_server: refusing on purpose' >&2\nexit 3\n").ok());
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  const char* path = std::getenv("PATH");
  const std::string saved = path != nullptr ? path : "/usr/bin:/bin";
  ::setenv("PATH", (std::string(dir) + ":" + saved).c_str(), 1);
  auto emu = S3Emulator::Start(S3Emulator::Kind::kMoto, WALSHIP_SOURCE_DIR);
  ::setenv("PATH", saved.c_str(), 1);
  RemoveTree(dir).IgnoreError();
  ASSERT_FALSE(emu.ok());
  EXPECT_EQ(emu.status().code(), Code::kUnavailable) << emu.status().ToString();
  EXPECT_NE(emu.status().message().find("exited at start"), std::string::npos) << emu.status().ToString();
  EXPECT_NE(emu.status().message().find("refusing on purpose"), std::string::npos) << emu.status().ToString();
}

TEST_F(S3StoreOnMoto, ServerRefusesOverwriteWithoutHeadCheck) {
  S3Store::Tuning t;
  t.check_before_put = false;  // only If-None-Match: * protects the key
  t.part_size = 65536;
  auto store = Store(t);
  ASSERT_TRUE(store->PutBytes("small", "first").ok());
  Status s = store->PutBytes("small", "second");
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  const std::string big(200000, 'b');
  ASSERT_TRUE(store->PutBytes("big", big).ok());  // multipart: 4 parts
  s = store->PutBytes("big", std::string(200000, 'c'));
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  EXPECT_EQ(*store->GetBytes("small"), "first");
  EXPECT_EQ(*store->GetBytes("big"), big);
}

TEST_F(S3StoreOnMoto, TimestampMetadataIsRfc3339NanoAndHeadReadsIt) {
  auto store = Store({});
  PutOptions opts;
  opts.timestamp_ms = 1'700'000'000'120;
  ASSERT_TRUE(store->PutBytes("db/0000/0000000000000001-0000000000000001.ltx", "x", opts).ok());
  Request head;
  head.method = "HEAD";
  head.key = "db/0000/0000000000000001-0000000000000001.ltx";
  auto resp = client_->Call(head, "head");
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->Get("x-amz-meta-litestream-timestamp"), "2023-11-14T22:13:20.12Z");
  auto info = store->Head(head.key);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->mtime_ms, opts.timestamp_ms);
}

TEST_F(S3StoreOnMoto, FailedMultipartUploadIsAborted) {
  S3Store::Tuning t;
  t.part_size = 65536;
  t.concurrency = 2;
  auto store = Store(t);
  FailingSource body(65536 * 3 + 10);
  Status s = store->Put("mp/obj", &body, 65536 * 5, PutOptions{});
  EXPECT_EQ(s.code(), Code::kIOError) << s.ToString();
  auto pending = PendingMultipartUploads(*client_);
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_EQ(*pending, 0u);
  EXPECT_EQ(store->Head("mp/obj").status().code(), Code::kNotFound);
}

// Above max_single_copy a copy is multipart (UploadPartCopy): three parts
// here, the last one short. Same bytes, the new timestamp, nothing pending.
TEST_F(S3StoreOnMoto, ALargeCopyIsMultipartAndIdentical) {
  S3Store::Tuning t;
  t.max_single_copy = 6 << 20;
  t.copy_part_size = 5 << 20;
  t.concurrency = 2;
  auto store = Store(t);
  std::string data((12 << 20) + 17, '\0');
  for (size_t i = 0; i < data.size(); i++) data[i] = char((i * 2654435761u) >> 13);
  ASSERT_TRUE(store->PutBytes("big/src.ltx", data).ok());
  PutOptions opts;
  opts.timestamp_ms = 1'700'000'000'250;
  Status s = store->Copy("big/src.ltx", "big/dst.ltx", opts);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto got = store->GetBytes("big/dst.ltx");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(*got == data);
  Request head;
  head.method = "HEAD";
  head.key = "big/dst.ltx";
  auto resp = client_->Call(head, "head");
  ASSERT_TRUE(resp.ok());
  EXPECT_NE(resp->Get("etag").find("-3"), std::string::npos) << resp->Get("etag");  // a 3-part object
  auto info = store->Head("big/dst.ltx");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->mtime_ms, opts.timestamp_ms);
  auto pending = PendingMultipartUploads(*client_);
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_EQ(*pending, 0u);
  EXPECT_EQ(store->Copy("big/src.ltx", "big/dst.ltx", opts).code(), Code::kAlreadyExists);
}

TEST_F(S3StoreOnMoto, ReadsSpanManyChunksAndStopAtTheRequestedEnd) {
  S3Store::Tuning t;
  t.read_chunk = 1000;
  auto store = Store(t);
  std::string data;
  for (int i = 0; i < 10000; i++) data += char('a' + i % 26);
  ASSERT_TRUE(store->PutBytes("chunks", data).ok());
  EXPECT_EQ(*store->GetBytes("chunks"), data);  // the whole object: one GET without Range
  EXPECT_EQ(*store->GetBytes("chunks", 0, 10000), data);  // the same bytes by ranged GETs
  EXPECT_EQ(*store->GetBytes("chunks", 999, 2002), data.substr(999, 2002));
  EXPECT_EQ(*store->GetBytes("chunks", 9999), data.substr(9999));
}

// s3rver checks the key id but not SigV4 signatures ("unimplemented").
TEST_F(S3StoreOnS3rver, UnknownKeyIsANonRetryableAuthError) {
  ClientConfig cc = client_->config();
  cc.creds = {"NOT-A-KEY", "not-the-secret", ""};
  S3Store::Tuning t;
  t.check_before_put = false;  // a HEAD error has no body to name the code
  S3Store store(std::make_shared<S3Client>(cc), t);
  Status s = store.PutBytes("k", "v");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_FALSE(s.retryable());
  EXPECT_NE(s.message().find("403 InvalidAccessKeyId"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.message().find("not-the-secret"), std::string::npos);
}

// s3rver has no UploadPartCopy (501 NotImplemented): the copy fails as
// kUnimplemented, not retried, so the caller uploads at once.
TEST_F(S3StoreOnS3rver, AMultipartCopyTheServerLacksIsUnimplemented) {
  S3Store::Tuning t;
  t.max_single_copy = 1;
  t.copy_part_size = 5 << 20;
  t.check_before_put = true;
  auto store = Store(t);
  ASSERT_TRUE(store->PutBytes("big/src.ltx", std::string(100, 'x')).ok());
  Status s = store->Copy("big/src.ltx", "big/dst.ltx", PutOptions{});
  EXPECT_EQ(s.code(), Code::kUnimplemented) << s.ToString();
  EXPECT_FALSE(s.retryable());
  EXPECT_EQ(store->Head("big/dst.ltx").status().code(), Code::kNotFound);
}

TEST_F(S3StoreOnS3rver, OneByteRangesAreExactDespiteTheServer) {
  S3Store::Tuning t;
  t.head_before_get = false;  // exercise the "bytes=0-0" clamp
  auto store = Store(t);
  ASSERT_TRUE(store->PutBytes("r", "0123456789").ok());
  EXPECT_EQ(*store->GetBytes("r", 0, 1), "0");
  EXPECT_EQ(*store->GetBytes("r", 3, 4), "3456");
  EXPECT_EQ(*store->GetBytes("r", 10), "");
  EXPECT_EQ(store->GetBytes("missing", 0, 1).status().code(), Code::kNotFound);
}

// TLS: peers are verified by default; a private CA works through ca_bundle
// (AWS_CA_BUNDLE's role); skip_verify turns verification off.
TEST(S3StoreOverTls, VerifiesPeersUnlessToldNotTo) {
  auto emu = S3Emulator::Start(S3Emulator::Kind::kS3rverTls, WALSHIP_SOURCE_DIR);
  if (emu.status().code() == Code::kFailedPrecondition) GTEST_SKIP() << emu.status().ToString();
  ASSERT_TRUE(emu.ok()) << emu.status().ToString();
  auto client = (*emu)->NewBucket("walship-tls");  // trusts the test CA
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->config().endpoint.substr(0, 8), "https://");
  S3Store trusted(*client, S3Store::Tuning{});
  ASSERT_TRUE(trusted.PutBytes("tls/k", "v").ok());
  EXPECT_EQ(*trusted.GetBytes("tls/k"), "v");

  ClientConfig cc = (*client)->config();
  cc.ca_bundle = "/etc/ssl/certs/ca-certificates.crt";  // the system CAs do not know the test CA
  S3Store untrusted(std::make_shared<S3Client>(cc), S3Store::Tuning{});
  auto got = untrusted.GetBytes("tls/k");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kUnavailable) << got.status().ToString();
  EXPECT_FALSE(got.status().retryable()) << got.status().ToString();

  cc.skip_verify = true;
  S3Store unverified(std::make_shared<S3Client>(cc), S3Store::Tuning{});
  EXPECT_EQ(*unverified.GetBytes("tls/k"), "v");
}

// Virtual-host style: curl resolves *.localhost to loopback by itself, and
// moto takes the bucket from the Host header.
TEST_F(S3StoreOnMoto, VirtualHostStyleWorks) {
  ClientConfig cc = client_->config();
  cc.endpoint = "http://localhost:" + std::to_string(emu_->port());
  cc.force_path_style = false;
  auto vhost = std::make_shared<S3Client>(cc);
  EXPECT_EQ(vhost->UrlFor(Request{"GET", "k", {}, {}, {}, 0}),
            "http://walship-test.localhost:" + std::to_string(emu_->port()) + "/k");
  S3Store store(vhost, S3Store::Tuning{});
  ASSERT_TRUE(store.PutBytes("vh/k", "v").ok());
  EXPECT_EQ(*store.GetBytes("vh/k"), "v");
  auto listed = store.List("vh/");
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  // The same bucket through path style sees it.
  EXPECT_EQ(*Store({})->GetBytes("vh/k"), "v");
}

// moto recomputes every request's signature with botocore: what we send is
// what we signed, for awkward keys and prefixes, both payload modes. moto
// decodes the path before it recomputes, so keys with + = % & : @ $ or
// non-ASCII fail its check even from boto3 itself, as do most query values
// with '/'; those are covered by SigV4.MatchesBotocore instead.
class S3StoreOnMotoWithAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    auto emu = S3Emulator::Start(S3Emulator::Kind::kMoto, WALSHIP_SOURCE_DIR, /*require_auth=*/true);
    if (emu.status().code() == Code::kFailedPrecondition) GTEST_SKIP() << emu.status().ToString();
    ASSERT_TRUE(emu.ok()) << emu.status().ToString();
    emu_ = std::move(emu).value();
  }
  std::unique_ptr<S3Emulator> emu_;
};

TEST_F(S3StoreOnMotoWithAuth, SignaturesAreAcceptedForAwkwardKeys) {
  for (bool sign_payload : {true, false}) {
    const std::string bucket = sign_payload ? "walship-signed" : "walship-unsigned";
    auto client = emu_->NewBucket(bucket, sign_payload);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    S3Store::Tuning t;
    t.part_size = 65536;
    S3Store store(*client, t);
    const std::vector<std::string> keys = {"db/0000/0000000000000001-0000000000000001.ltx", "./0000/x.ltx",
                                           "sp ace/q?/h#/t~/x", "a//b"};
    for (const std::string& k : keys) {
      Status s = store.PutBytes(k, "v:" + k);
      ASSERT_TRUE(s.ok()) << k << ": " << s.ToString();
      auto got = store.GetBytes(k, 1);
      ASSERT_TRUE(got.ok()) << k << ": " << got.status().ToString();
      EXPECT_EQ(*got, ":" + k);
    }
    ASSERT_TRUE(store.PutBytes("mp/obj", std::string(150000, 'm')).ok());  // multipart
    // moto's check of query strings fails for '/', ' ', '?', '.' or non-ASCII even from boto3.
    for (const std::string prefix : {"", "db", "pl+us", "h#"}) {
      auto listed = store.List(prefix, prefix.empty() ? "" : prefix + "0");
      ASSERT_TRUE(listed.ok()) << prefix << ": " << listed.status().ToString();
    }
    auto all = store.List("");
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), keys.size() + 1);
    ASSERT_TRUE(store.Delete(keys).ok());
    EXPECT_EQ(store.List("")->size(), 1u);
  }
}

TEST_F(S3StoreOnMotoWithAuth, WrongSecretIsANonRetryableSignatureError) {
  auto client = emu_->NewBucket("walship-test");
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  ClientConfig cc = (*client)->config();
  cc.creds.secret_access_key = "not-the-secret";
  S3Store::Tuning t;
  t.check_before_put = false;
  S3Store store(std::make_shared<S3Client>(cc), t);
  Status s = store.PutBytes("k", "v");
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_FALSE(s.retryable());
  EXPECT_NE(s.message().find("403 SignatureDoesNotMatch"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.message().find("not-the-secret"), std::string::npos);
}

}  // namespace
}  // namespace walship::storage::s3
