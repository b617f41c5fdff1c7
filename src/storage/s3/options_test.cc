#include "storage/s3/options.h"

#include <gtest/gtest.h>

#include "storage/s3/credentials.h"
#include "storage/s3/s3_store.h"
#include "storage/url.h"

namespace walship::storage::s3 {
namespace {

S3Options Parse(const std::string& url) {
  auto r = ParseS3Url(url);
  EXPECT_TRUE(r.ok()) << url << ": " << r.status().ToString();
  return r.ok() ? *r : S3Options{};
}

TEST(LitestreamPrefix, FollowsGoPathClean) {
  EXPECT_EQ(LitestreamPrefix(""), ".");
  EXPECT_EQ(LitestreamPrefix("/"), "");
  EXPECT_EQ(LitestreamPrefix("/db"), "db");
  EXPECT_EQ(LitestreamPrefix("/a/b/"), "a/b");
  EXPECT_EQ(LitestreamPrefix("/a//b/./c/../d"), "a/b/d");
  EXPECT_EQ(LitestreamPrefix("/../x"), "x");
}

TEST(ParseS3Url, PlainBucketAndPrefix) {
  S3Options o = Parse("s3://my-bucket/backups/db/");
  EXPECT_EQ(o.bucket, "my-bucket");
  EXPECT_EQ(o.prefix, "backups/db");
  EXPECT_EQ(o.endpoint, "");
  EXPECT_FALSE(o.force_path_style.has_value());
  EXPECT_EQ(Parse("s3://b3t").prefix, ".");
  EXPECT_EQ(Parse("s3://b3t/").prefix, "");
  EXPECT_EQ(Parse("S3://b3t/a%20b").prefix, "a b");
  EXPECT_EQ(Parse("s3://my.dotted.bucket/x").bucket, "my.dotted.bucket");
}

TEST(ParseS3Url, QueryParameters) {
  S3Options o = Parse(
      "s3://bkt/p?endpoint=http://127.0.0.1:9000&region=eu-west-3&skipVerify=true&signPayload=false"
      "&requireContentMD5=false&partSize=10MiB&concurrency=7&storageClass=STANDARD_IA&unknown=1");
  EXPECT_EQ(o.bucket, "bkt");
  EXPECT_EQ(o.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(o.region, "eu-west-3");
  EXPECT_EQ(o.force_path_style, std::optional<bool>(true));  // implied by endpoint
  EXPECT_TRUE(o.skip_verify);
  EXPECT_FALSE(o.sign_payload);
  EXPECT_FALSE(o.require_content_md5);
  EXPECT_EQ(o.part_size, 10u << 20);
  EXPECT_EQ(o.concurrency, 7);
  EXPECT_EQ(o.storage_class, "STANDARD_IA");
  EXPECT_EQ(Parse("s3://b3t/p?forcePathStyle=false&endpoint=minio:9000").force_path_style, std::optional<bool>(false));
  EXPECT_EQ(Parse("s3://b3t/p?force-path-style=1").force_path_style, std::optional<bool>(true));
  EXPECT_EQ(Parse("s3://b3t/p?sign-payload=no&require-content-md5=f&part-size=5242880").part_size, 5242880u);
}

TEST(ParseS3Url, EndpointGetsASchemeByHost) {
  EXPECT_EQ(Parse("s3://b3t?endpoint=localhost:9000").endpoint, "http://localhost:9000");
  EXPECT_EQ(Parse("s3://b3t?endpoint=10.1.2.3:9000").endpoint, "http://10.1.2.3:9000");
  EXPECT_EQ(Parse("s3://b3t?endpoint=192.168.0.5").endpoint, "http://192.168.0.5");
  EXPECT_EQ(Parse("s3://b3t?endpoint=172.20.0.1:9000").endpoint, "http://172.20.0.1:9000");
  EXPECT_EQ(Parse("s3://b3t?endpoint=172.32.0.1").endpoint, "https://172.32.0.1");
  EXPECT_EQ(Parse("s3://b3t?endpoint=nas.local:9000").endpoint, "http://nas.local:9000");
  EXPECT_EQ(Parse("s3://b3t?endpoint=fly.storage.tigris.dev").endpoint, "https://fly.storage.tigris.dev");
  EXPECT_EQ(Parse("s3://b3t?endpoint=https://127.0.0.1:9443").endpoint, "https://127.0.0.1:9443");
}

TEST(ParseS3Url, ProviderHostForms) {
  S3Options aws = Parse("s3://bkt.s3.amazonaws.com/db");
  EXPECT_EQ(aws.bucket, "bkt");
  EXPECT_EQ(aws.endpoint, "");
  EXPECT_EQ(aws.prefix, "db");
  S3Options aws2 = Parse("s3://bkt.s3.eu-west-1.amazonaws.com/db");
  EXPECT_EQ(aws2.bucket, "bkt");
  EXPECT_EQ(aws2.region, "eu-west-1");
  EXPECT_FALSE(aws2.force_path_style.value_or(false));
  S3Options b2 = Parse("s3://bkt.s3.us-west-002.backblazeb2.com/db");
  EXPECT_EQ(b2.bucket, "bkt");
  EXPECT_EQ(b2.region, "us-west-002");
  EXPECT_EQ(b2.endpoint, "https://s3.us-west-002.backblazeb2.com");
  EXPECT_EQ(b2.force_path_style, std::optional<bool>(true));
  S3Options d = Parse("s3://bkt.nyc3.digitaloceanspaces.com/db");
  EXPECT_EQ(d.endpoint, "https://nyc3.digitaloceanspaces.com");
  EXPECT_EQ(d.region, "nyc3");
  EXPECT_EQ(Parse("s3://bkt.s3.filebase.com/db").endpoint, "https://s3.filebase.com");
  S3Options scw = Parse("s3://bkt.s3.fr-par.scw.cloud/db");
  EXPECT_EQ(scw.endpoint, "https://s3.fr-par.scw.cloud");
  EXPECT_EQ(scw.region, "fr-par");
  S3Options lh = Parse("s3://bkt.localhost:9000/db");
  EXPECT_EQ(lh.bucket, "bkt");
  EXPECT_EQ(lh.endpoint, "http://localhost:9000");
  S3Options minio = Parse("s3://bkt.minio.internal:9000/db");
  EXPECT_EQ(minio.bucket, "bkt");
  EXPECT_EQ(minio.endpoint, "https://minio.internal:9000");
  EXPECT_EQ(minio.force_path_style, std::optional<bool>(true));
  S3Options dashed = Parse("s3://my.bkt.s3-us-west-2.amazonaws.com/db");
  EXPECT_EQ(dashed.bucket, "my.bkt");
  EXPECT_EQ(dashed.region, "us-west-2");
  EXPECT_EQ(Parse("s3://bkt.s3.amazonaws.com").region, "");
  EXPECT_EQ(Parse("s3://bkt.s3.amazonaws.com?region=ap-south-1").region, "ap-south-1");
  S3Options ip = Parse("s3://bkt.127.0.0.1:9000/db");
  EXPECT_EQ(ip.bucket, "bkt");
  EXPECT_EQ(ip.endpoint, "http://127.0.0.1:9000");
}

TEST(ParseS3Url, RejectsBadUrlsWithoutLeakingSecrets) {
  for (const std::string url : {"s3://", "s3:///prefix", "s3://127.0.0.1:9000/db", "s3://b3t/p?concurrency=0",
                                "s3://b3t/p?partSize=lots", "s3://b3t/p?skipVerify=maybe", "s3://b3t/p#frag",
                                "s3://arn:aws:s3:us-east-1:123456789012:accesspoint/ap/db", "s3://b3t/%zz"}) {
    auto r = ParseS3Url(url);
    EXPECT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << url;
  }
  auto r = ParseS3Url("s3://AKID:hunter2@b3t/db");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("hunter2"), std::string::npos) << r.status().ToString();
}

TEST(OpenReplicaUrl, S3GivesTheS3LayoutAndHidesSecrets) {
  ::setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "very-secret-key", 1);
  auto r = OpenReplicaUrl("s3://bkt/backups/db?endpoint=127.0.0.1:9&region=auto");
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->layout, KeyLayout::kS3);
  EXPECT_EQ(r->prefix, "backups/db");
  const std::string d = r->store->Describe();
  EXPECT_NE(d.find("s3://bkt"), std::string::npos) << d;
  EXPECT_NE(d.find("http://127.0.0.1:9"), std::string::npos) << d;
  EXPECT_EQ(d.find("very-secret-key"), std::string::npos) << d;
  EXPECT_EQ(d.find("AKIDTEST"), std::string::npos) << d;
}

TEST(OpenS3Replica, UsesOptionsAndValidates) {
  S3Options o;
  o.bucket = "bkt";
  o.prefix = "db";
  o.endpoint = "https://fly.storage.tigris.dev";
  o.access_key_id = "id";
  o.secret_access_key = "secret";
  auto r = OpenS3Replica(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->prefix, "db");
  EXPECT_EQ(r->layout, KeyLayout::kS3);
  o.part_size = 1024;
  EXPECT_EQ(OpenS3Replica(o).status().code(), Code::kInvalidArgument);
  o.part_size = 5 << 20;
  o.bucket = "b";
  EXPECT_EQ(OpenS3Replica(o).status().code(), Code::kInvalidArgument);
  o.bucket = "bkt";
  o.secret_access_key = "";
  auto half = OpenS3Replica(o);
  EXPECT_EQ(half.status().code(), Code::kInvalidArgument);
}

const char* FakeEnv(const std::map<std::string, std::string>& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? nullptr : it->second.c_str();
}

TEST(Credentials, PrecedenceExplicitLitestreamAwsFile) {
  std::map<std::string, std::string> env = {{"LITESTREAM_ACCESS_KEY_ID", "ls-id"},
                                            {"LITESTREAM_SECRET_ACCESS_KEY", "ls-secret"},
                                            {"AWS_ACCESS_KEY_ID", "aws-id"},
                                            {"AWS_SECRET_ACCESS_KEY", "aws-secret"},
                                            {"AWS_SESSION_TOKEN", "aws-token"}};
  GetEnv getenv = [&](const char* n) { return FakeEnv(env, n); };
  Credentials explicit_creds{"x", "y", ""};
  ASSERT_TRUE(ResolveCredentials(&explicit_creds, getenv).ok());
  EXPECT_EQ(explicit_creds.access_key_id, "x");
  Credentials c;
  ASSERT_TRUE(ResolveCredentials(&c, getenv).ok());
  EXPECT_EQ(c.access_key_id, "ls-id");
  EXPECT_EQ(c.session_token, "");
  env.erase("LITESTREAM_ACCESS_KEY_ID");
  env.erase("LITESTREAM_SECRET_ACCESS_KEY");
  c = {};
  ASSERT_TRUE(ResolveCredentials(&c, getenv).ok());
  EXPECT_EQ(c.access_key_id, "aws-id");
  EXPECT_EQ(c.session_token, "aws-token");
  env.erase("AWS_SECRET_ACCESS_KEY");
  c = {};
  Status half = ResolveCredentials(&c, getenv);
  EXPECT_EQ(half.code(), Code::kInvalidArgument);
  EXPECT_EQ(half.message().find("aws-id"), std::string::npos);
  env.clear();
  env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/walship/credentials";
  c = {};
  EXPECT_EQ(ResolveCredentials(&c, getenv).code(), Code::kInvalidArgument);
}

TEST(Credentials, ParsesSharedFileProfiles) {
  const std::string text =
      "# comment\n[default]\naws_access_key_id = DEF\naws_secret_access_key=defsecret\n\n"
      "[profile work]\naws_access_key_id=W\naws_secret_access_key = wsecret\naws_session_token = tok\n[empty]\n";
  auto d = ParseCredentialsFile(text, "default");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->access_key_id, "DEF");
  EXPECT_EQ(d->secret_access_key, "defsecret");
  auto w = ParseCredentialsFile(text, "work");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->session_token, "tok");
  EXPECT_EQ(ParseCredentialsFile(text, "empty").status().code(), Code::kNotFound);
  EXPECT_EQ(ParseCredentialsFile(text, "missing").status().code(), Code::kNotFound);
}

TEST(FormatRfc3339Nano, DropsTrailingZerosLikeGo) {
  EXPECT_EQ(FormatRfc3339Nano(1'700'000'000'123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(FormatRfc3339Nano(1'700'000'000'120), "2023-11-14T22:13:20.12Z");
  EXPECT_EQ(FormatRfc3339Nano(1'700'000'000'000), "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace walship::storage::s3
