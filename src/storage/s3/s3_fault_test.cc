// The S3 client's error translation end to end: tests/support/fault_proxy.py
// between the store and moto injects 5xx replies, connection resets, lost
// acknowledgements and stalls.

#include <gtest/gtest.h>

#include "storage/s3/emulator_for_test.h"
#include "storage/s3/s3_store.h"
#include "storage/s3/xml.h"

namespace walship::storage::s3 {
namespace {

class S3Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    auto emu = S3Emulator::Start(S3Emulator::Kind::kMoto, WALSHIP_SOURCE_DIR);
    if (emu.status().code() == Code::kFailedPrecondition) GTEST_SKIP() << emu.status().ToString();
    ASSERT_TRUE(emu.ok()) << emu.status().ToString();
    emu_ = std::move(emu).value();
    ASSERT_TRUE(emu_->NewBucket("walship-faults").ok());
    auto proxy = FaultProxy::Start(emu_->port(), WALSHIP_SOURCE_DIR);
    if (proxy.status().code() == Code::kFailedPrecondition) GTEST_SKIP() << proxy.status().ToString();
    ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
    proxy_ = std::move(proxy).value();
    ClientConfig cc;
    cc.endpoint = proxy_->endpoint();
    cc.bucket = "walship-faults";
    cc.force_path_style = true;
    cc.creds = emu_->credentials();
    cc.low_speed_time_s = 1;
    client_ = std::make_shared<S3Client>(cc);
    S3Store::Tuning t;
    t.part_size = 65536;
    t.concurrency = 2;
    store_ = std::make_unique<S3Store>(client_, t);
  }

  std::unique_ptr<S3Emulator> emu_;
  std::unique_ptr<FaultProxy> proxy_;
  std::shared_ptr<S3Client> client_;
  std::unique_ptr<S3Store> store_;
};

TEST_F(S3Faults, ServerErrorsAreRetryableAndNamed) {
  ASSERT_TRUE(proxy_->AddRule(R"({"kind":"error","status":503,"method":"PUT"})").ok());
  Status s = store_->PutBytes("db/0000/a.ltx", "x");
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_TRUE(s.retryable());
  EXPECT_NE(s.message().find("s3 PUT db/0000/a.ltx: 503 SlowDown"), std::string::npos) << s.ToString();
  ASSERT_TRUE(proxy_->AddRule(R"({"kind":"error","status":500,"method":"GET"})").ok());
  auto list = store_->List("");
  EXPECT_EQ(list.status().code(), Code::kUnavailable);
  EXPECT_TRUE(list.status().retryable());
  EXPECT_NE(list.status().message().find("500 InternalError"), std::string::npos) << list.status().ToString();
  EXPECT_TRUE(store_->PutBytes("db/0000/a.ltx", "x").ok());  // the rules are used up
}

// CopyObject answers 200 before it copies and may still fail: then the body
// is an <Error>, and that is the answer.
TEST_F(S3Faults, ACopyThatFailsInsideA200IsARetryableError) {
  ASSERT_TRUE(store_->PutBytes("db/0000/a.ltx", "snapshot bytes").ok());
  ASSERT_TRUE(proxy_->AddRule(R"({"kind":"error","status":200,"code":"InternalError","method":"PUT"})").ok());
  Status s = store_->Copy("db/0000/a.ltx", "db/0009/a.ltx", PutOptions{});
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_TRUE(s.retryable());
  EXPECT_NE(s.message().find("s3 COPY db/0000/a.ltx to db/0009/a.ltx"), std::string::npos) << s.ToString();
  EXPECT_EQ(store_->Head("db/0009/a.ltx").status().code(), Code::kNotFound);
  ASSERT_TRUE(store_->Copy("db/0000/a.ltx", "db/0009/a.ltx", PutOptions{}).ok());  // the rule is used up
  auto got = store_->GetBytes("db/0009/a.ltx");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "snapshot bytes");
}

// A failed part of a multipart copy aborts the upload: nothing at the
// destination and no upload left behind.
TEST_F(S3Faults, AFailedCopyPartAbortsTheMultipartCopy) {
  S3Store::Tuning t;
  t.max_single_copy = 1;
  t.copy_part_size = 5 << 20;
  t.concurrency = 1;
  S3Store store(client_, t);
  ASSERT_TRUE(store.PutBytes("db/0000/big.ltx", std::string((11 << 20) + 5, 'b')).ok());
  // The first PUT of the copy is its first part (HEADs and the POST come before it).
  ASSERT_TRUE(proxy_->AddRule(R"({"kind":"error","status":400,"code":"InvalidRequest","method":"PUT"})").ok());
  Status s = store.Copy("db/0000/big.ltx", "db/0009/big.ltx", PutOptions{});
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("part 1"), std::string::npos) << s.ToString();
  EXPECT_EQ(store.Head("db/0009/big.ltx").status().code(), Code::kNotFound);
  auto pending = PendingMultipartUploads(*client_);
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_EQ(*pending, 0u);
  ASSERT_TRUE(store.Copy("db/0000/big.ltx", "db/0009/big.ltx", PutOptions{}).ok());
}

TEST_F(S3Faults, ResetsAreRetryable) {
  ASSERT_TRUE(store_->PutBytes("k", "v").ok());
  ASSERT_TRUE(proxy_->AddRule(R"({"kind":"reset_before","method":"GET"})").ok());
  auto got = store_->GetBytes("k");
  EXPECT_EQ(got.status().code(), Code::kUnavailable) << got.status().ToString();
  EXPECT_TRUE(got.status().retryable());
  EXPECT_EQ(*store_->GetBytes("k"), "v");
}

TEST_F(S3Faults, LostAckLeavesTheObjectAndANoOverwriteRetryFindsIt) {
  ASSERT_TRUE(proxy_->AddRule(R"({"kind":"reset_after","method":"PUT"})").ok());
  Status s = store_->PutBytes("ack/lost", "data");
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_TRUE(s.retryable());
  EXPECT_EQ(*store_->GetBytes("ack/lost"), "data");
  EXPECT_EQ(store_->PutBytes("ack/lost", "data").code(), Code::kAlreadyExists);
}

TEST_F(S3Faults, FailedPartAbortsTheMultipartUpload) {
  // The first part upload fails (the no-overwrite check before it is a HEAD).
  ASSERT_TRUE(proxy_->AddRule(R"({"kind":"error","status":500,"method":"PUT","count":1,"key":"mp"})").ok());
  Status s = store_->PutBytes("mp/obj", std::string(65536 * 4, 'm'));
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_TRUE(s.retryable());
  EXPECT_NE(s.message().find("part"), std::string::npos) << s.ToString();
  EXPECT_EQ(store_->Head("mp/obj").status().code(), Code::kNotFound);
  auto pending = PendingMultipartUploads(*client_);
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_EQ(*pending, 0u);
}

TEST_F(S3Faults, AStalledResponseTimesOutAsRetryable) {
  ASSERT_TRUE(store_->PutBytes("slow", "v").ok());
  ASSERT_TRUE(proxy_->AddRule(R"({"kind":"delay","seconds":4,"method":"GET","count":1})").ok());
  auto got = store_->GetBytes("slow");
  EXPECT_EQ(got.status().code(), Code::kUnavailable) << got.status().ToString();
  EXPECT_TRUE(got.status().retryable());
}

}  // namespace
}  // namespace walship::storage::s3
