#include "daemon/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "base/file.h"
#include "daemon/config_util.h"

namespace walship::daemon {
namespace {

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

Result<Config> Parse(std::string_view yaml, bool expand_env = true) {
  return ParseConfig(yaml, expand_env, "/etc/walship.yml");
}

// Parses and expects success; returns the config.
Config MustParse(std::string_view yaml) {
  ScopedEnv no_log_level("LOG_LEVEL", std::nullopt);
  auto r = Parse(yaml);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : Config{};
}

// Parses, expects failure and returns the message.
std::string MustFail(std::string_view yaml, bool expand_env = true) {
  ScopedEnv no_log_level("LOG_LEVEL", std::nullopt);
  auto r = Parse(yaml, expand_env);
  EXPECT_FALSE(r.ok()) << yaml;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().ToString();
  EXPECT_EQ(r.status().message().rfind("config /etc/walship.yml: ", 0), 0u) << r.status().message();
  return r.status().message();
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// A DB with a file replica, as a YAML list item, for tests that only care
// about other keys.
constexpr std::string_view kOneDb = R"(
dbs:
  - path: /data/app.db
    replica:
      path: /backup/app
)";

TEST(Config, EmptyDocumentGivesDefaults) {
  Config c = MustParse("");
  EXPECT_TRUE(c.dbs.empty());
  EXPECT_EQ(c.levels, (std::vector<int64_t>{30'000, 300'000, 3'600'000}));
  EXPECT_EQ(c.snapshot_interval_ms, 86'400'000);
  EXPECT_EQ(c.snapshot_retention_ms, 86'400'000);
  EXPECT_EQ(c.l0_retention_ms, 300'000);
  EXPECT_EQ(c.l0_retention_check_interval_ms, 15'000);
  EXPECT_TRUE(c.retention_enabled);
  EXPECT_EQ(c.shutdown_sync_timeout_ms, 30'000);
  EXPECT_EQ(c.shutdown_sync_interval_ms, 500);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_type, "text");
  EXPECT_EQ(c.exec, "");
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_TRUE(MustParse("# only a comment\n").dbs.empty());
}

TEST(Config, DefaultsOfDbAndReplica) {
  Config c = MustParse(kOneDb);
  ASSERT_EQ(c.dbs.size(), 1u);
  const DbConfig& db = c.dbs[0];
  EXPECT_EQ(db.path, "/data/app.db");
  EXPECT_EQ(db.meta_path, "/data/.app.db-litestream");
  EXPECT_EQ(db.monitor_interval_ms, 1000);
  EXPECT_EQ(db.checkpoint_interval_ms, 60'000);
  EXPECT_EQ(db.busy_timeout_ms, 1000);
  EXPECT_EQ(db.min_checkpoint_page_count, 1000);
  EXPECT_EQ(db.handoff_frames, 800);
  EXPECT_EQ(db.truncate_page_n, 121359);
  EXPECT_EQ(db.max_sync_wal_bytes, 67'108'864);
  EXPECT_FALSE(db.restore_if_db_not_exists);
  const ReplicaConfig& r = db.replica;
  EXPECT_EQ(r.type, "file");
  EXPECT_EQ(r.url, "");
  EXPECT_EQ(r.path, "/backup/app");
  EXPECT_EQ(r.sync_interval_ms, 1000);
  EXPECT_EQ(r.max_sync_ltx_files, 256);
  EXPECT_FALSE(r.auto_recover);
  EXPECT_FALSE(r.force_path_style.has_value());
  EXPECT_FALSE(r.sign_payload.has_value());
  EXPECT_FALSE(r.require_content_md5.has_value());
  EXPECT_FALSE(r.skip_verify);
  EXPECT_FALSE(r.part_size.has_value());
  EXPECT_FALSE(r.concurrency.has_value());
  EXPECT_TRUE(c.warnings.empty());
}

TEST(Config, ParsesEveryKey) {
  Config c = MustParse(R"(
levels:
  - interval: 10s
  - interval: 2m
snapshot:
  interval: 12h
  retention: 72h
l0-retention: 0
l0-retention-check-interval: 30s
retention:
  enabled: false
shutdown-sync-timeout: 0s
shutdown-sync-interval: 250ms
exec: "myapp serve --port 8080"
logging:
  level: DEBUG
  type: json
dbs:
  - path: sqlite3:///data/app.db
    meta-path: /var/lib/walship/app-meta
    monitor-interval: 2s
    checkpoint-interval: 0
    busy-timeout: 5s
    min-checkpoint-page-count: 2_000
    handoff-frames: 0
    truncate-page-n: -1
    max-sync-wal-bytes: 1048576
    restore-if-db-not-exists: yes
    replica:
      type: s3
      bucket: my-bucket
      path: backups/app
      endpoint: http://localhost:9000
      region: eu-west-1
      access-key-id: AKIAEXAMPLE
      secret-access-key: sekrit-value-123
      force-path-style: true
      sign-payload: false
      require-content-md5: off
      skip-verify: true
      storage-class: STANDARD_IA
      part-size: 10MiB
      concurrency: 3
      sync-interval: 10s
      max-sync-ltx-files: 0
      auto-recover: true
)");
  EXPECT_EQ(c.levels, (std::vector<int64_t>{10'000, 120'000}));
  EXPECT_EQ(c.snapshot_interval_ms, 12 * 3'600'000);
  EXPECT_EQ(c.snapshot_retention_ms, 72 * 3'600'000);
  EXPECT_EQ(c.l0_retention_ms, 0);
  EXPECT_EQ(c.l0_retention_check_interval_ms, 30'000);
  EXPECT_FALSE(c.retention_enabled);
  EXPECT_EQ(c.shutdown_sync_timeout_ms, 0);
  EXPECT_EQ(c.shutdown_sync_interval_ms, 250);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.log_type, "json");
  EXPECT_EQ(c.exec, "myapp serve --port 8080");
  ASSERT_EQ(c.dbs.size(), 1u);
  const DbConfig& db = c.dbs[0];
  EXPECT_EQ(db.path, "/data/app.db");
  EXPECT_EQ(db.meta_path, "/var/lib/walship/app-meta");
  EXPECT_EQ(db.monitor_interval_ms, 2000);
  EXPECT_EQ(db.checkpoint_interval_ms, 0);
  EXPECT_EQ(db.busy_timeout_ms, 5000);
  EXPECT_EQ(db.min_checkpoint_page_count, 2000);
  EXPECT_EQ(db.handoff_frames, 0);
  EXPECT_EQ(db.truncate_page_n, -1);
  EXPECT_EQ(db.max_sync_wal_bytes, 1'048'576);
  EXPECT_TRUE(db.restore_if_db_not_exists);
  const ReplicaConfig& r = db.replica;
  EXPECT_EQ(r.type, "s3");
  EXPECT_EQ(r.bucket, "my-bucket");
  EXPECT_EQ(r.path, "backups/app");
  EXPECT_EQ(r.endpoint, "http://localhost:9000");
  EXPECT_EQ(r.region, "eu-west-1");
  EXPECT_EQ(r.access_key_id, "AKIAEXAMPLE");
  EXPECT_EQ(r.secret_access_key, "sekrit-value-123");
  EXPECT_EQ(r.force_path_style, std::optional<bool>(true));
  EXPECT_EQ(r.sign_payload, std::optional<bool>(false));
  EXPECT_EQ(r.require_content_md5, std::optional<bool>(false));
  EXPECT_TRUE(r.skip_verify);
  EXPECT_EQ(r.storage_class, "STANDARD_IA");
  EXPECT_EQ(r.part_size, std::optional<uint64_t>(10u * 1024 * 1024));
  EXPECT_EQ(r.concurrency, std::optional<int>(3));
  EXPECT_EQ(r.sync_interval_ms, 10'000);
  EXPECT_EQ(r.max_sync_ltx_files, 0);
  EXPECT_TRUE(r.auto_recover);
  ASSERT_EQ(c.warnings.size(), 1u);  // only: truncate-page-n is not acted on
  EXPECT_TRUE(Contains(c.warnings[0], "truncate-page-n")) << c.warnings[0];
}

TEST(Config, GlobalReplicaKeysAreDefaultsForEveryReplica) {
  Config c = MustParse(R"(
sync-interval: 5s
region: us-west-2
access-key-id: AKIAGLOBAL
skip-verify: true
auto-recover: true
dbs:
  - path: /data/a.db
    replica:
      url: s3://bucket-a/a
      region: eu-central-1
      skip-verify: false
  - path: /data/b.db
    replica:
      type: s3
      bucket: bucket-b
      sync-interval: 1s
)");
  ASSERT_EQ(c.dbs.size(), 2u);
  const ReplicaConfig& a = c.dbs[0].replica;
  EXPECT_EQ(a.type, "s3");
  EXPECT_EQ(a.url, "s3://bucket-a/a");
  EXPECT_EQ(a.region, "eu-central-1");  // set on the replica: wins
  EXPECT_EQ(a.access_key_id, "AKIAGLOBAL");
  EXPECT_EQ(a.sync_interval_ms, 5000);
  EXPECT_TRUE(a.auto_recover);
  EXPECT_TRUE(a.skip_verify);  // Litestream: a global true wins
  const ReplicaConfig& b = c.dbs[1].replica;
  EXPECT_EQ(b.region, "us-west-2");
  EXPECT_EQ(b.bucket, "bucket-b");
  EXPECT_EQ(b.sync_interval_ms, 1000);
}

TEST(Config, DeprecatedReplicasListWithOneItem) {
  Config c = MustParse(R"(
dbs:
  - path: /data/app.db
    replicas:
      - url: file:///backup/app
)");
  ASSERT_EQ(c.dbs.size(), 1u);
  EXPECT_EQ(c.dbs[0].replica.type, "file");
  EXPECT_EQ(c.dbs[0].replica.path, "/backup/app");
}

TEST(Config, ReplicaTypeComesFromUrlScheme) {
  Config c = MustParse(R"(
dbs:
  - path: /data/a.db
    replica: {url: "file:///backup/a?x=1"}
  - path: /data/b.db
    replica: {url: "S3://bucket/b"}
  - path: /data/c.db
    replica: {url: "file://relative/dir"}
  - path: /data/d.db
    replica: {type: s3, url: "file:///backup/d"}
)");
  ASSERT_EQ(c.dbs.size(), 4u);
  EXPECT_EQ(c.dbs[0].replica.type, "file");
  EXPECT_EQ(c.dbs[0].replica.path, "/backup/a");
  EXPECT_EQ(c.dbs[1].replica.type, "s3");
  EXPECT_EQ(c.dbs[1].replica.path, "");               // the S3 backend interprets the URL
  EXPECT_EQ(c.dbs[2].replica.path, "/relative/dir");  // Go parses "relative" as host
  EXPECT_EQ(c.dbs[3].replica.type, "file");           // the URL wins, as in Litestream
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_TRUE(Contains(c.warnings[0], "dbs[3] (/data/d.db): replica: type \"s3\" is overridden")) << c.warnings[0];
}

TEST(Config, PerDbSnapshotAppliesWhenGlobalAbsent) {
  Config c = MustParse(R"(
dbs:
  - path: /data/a.db
    snapshot: {interval: 6h}
    replica: {path: /b/a}
  - path: /data/b.db
    snapshot: {interval: 6h, retention: 48h}
    replica: {path: /b/b}
)");
  EXPECT_EQ(c.snapshot_interval_ms, 6 * 3'600'000);
  EXPECT_EQ(c.snapshot_retention_ms, 48 * 3'600'000);

  Config g = MustParse(R"(
snapshot: {interval: 1h}
dbs:
  - path: /data/a.db
    snapshot: {interval: 6h, retention: 2h}
    replica: {path: /b/a}
)");
  EXPECT_EQ(g.snapshot_interval_ms, 3'600'000);  // the global key wins
  EXPECT_EQ(g.snapshot_retention_ms, 2 * 3'600'000);
}

TEST(Config, PerDbSnapshotsMustAgree) {
  std::string m = MustFail(R"(
dbs:
  - path: /data/a.db
    snapshot: {interval: 6h}
    replica: {path: /b/a}
  - path: /data/b.db
    snapshot: {interval: 2h}
    replica: {path: /b/b}
)");
  EXPECT_TRUE(Contains(m,
                       "conflicting database snapshot intervals: dbs[0] (/data/a.db) has 6h, dbs[1] (/data/b.db) "
                       "has 2h"))
      << m;
}

TEST(Config, TruncatePageNIsAcceptedWithAWarning) {
  Config c = MustParse("dbs:\n  - path: /data/app.db\n    truncate-page-n: 5000\n    replica: {path: /b}\n");
  ASSERT_EQ(c.dbs.size(), 1u);
  EXPECT_EQ(c.dbs[0].truncate_page_n, 5000);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_TRUE(Contains(c.warnings[0], "dbs[0] (/data/app.db): truncate-page-n (line 3): the emergency TRUNCATE "
                                      "checkpoint is not implemented by walship yet; ignored"))
      << c.warnings[0];
  EXPECT_TRUE(MustParse("dbs:\n  - path: /data/app.db\n    replica: {path: /b}\n").warnings.empty());
}

TEST(Config, TruncatePageNZeroMeansDefault) {
  Config c = MustParse(R"(
dbs:
  - path: /data/app.db
    truncate-page-n: 0
    replica: {path: /b}
)");
  EXPECT_EQ(c.dbs[0].truncate_page_n, 121359);
}

TEST(Config, LevelsCanBeEmptied) { EXPECT_TRUE(MustParse("levels: []\n").levels.empty()); }

TEST(Config, NullValuesCountAsUnset) {
  Config c = MustParse(R"(
sync-interval:
dbs:
  - path: /data/app.db
    monitor-interval:
    replica:
      path: /b
      sync-interval: ~
)");
  EXPECT_EQ(c.dbs[0].monitor_interval_ms, 1000);
  EXPECT_EQ(c.dbs[0].replica.sync_interval_ms, 1000);
}

// --- environment ------------------------------------------------------------

TEST(ConfigEnv, ExpandsDollarNameAndBraces) {
  ScopedEnv a("WALSHIP_TEST_BUCKET", "env-bucket");
  ScopedEnv b("WALSHIP_TEST_DIR", "/srv/data");
  Config c = MustParse(R"(
dbs:
  - path: ${WALSHIP_TEST_DIR}/app.db
    replica:
      url: s3://$WALSHIP_TEST_BUCKET/app
)");
  ASSERT_EQ(c.dbs.size(), 1u);
  EXPECT_EQ(c.dbs[0].path, "/srv/data/app.db");
  EXPECT_EQ(c.dbs[0].replica.url, "s3://env-bucket/app");
}

TEST(ConfigEnv, PidAndUnsetVariables) {
  ScopedEnv unset("WALSHIP_TEST_UNSET", std::nullopt);
  Config c = MustParse(R"(
dbs:
  - path: /data/app-$PID.db
    replica:
      path: /backup/x${WALSHIP_TEST_UNSET}y
)");
  ASSERT_EQ(c.dbs.size(), 1u);
  EXPECT_EQ(c.dbs[0].path, "/data/app-" + std::to_string(::getpid()) + ".db");
  EXPECT_EQ(c.dbs[0].replica.path, "/backup/xy");
}

TEST(ConfigEnv, DisabledLeavesDollarsAlone) {
  ScopedEnv a("WALSHIP_TEST_DIR", "/srv/data");
  auto r = Parse(R"(
dbs:
  - path: /data/$WALSHIP_TEST_DIR/app.db
    replica: {path: /b}
)",
                 /*expand_env=*/false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->dbs[0].path, "/data/$WALSHIP_TEST_DIR/app.db");
}

TEST(ConfigEnv, FollowsGoOsExpandEdgeCases) {
  auto lookup = [](std::string_view name) { return "<" + std::string(name) + ">"; };
  using config_internal::ExpandEnv;
  EXPECT_EQ(ExpandEnv("a$X.b", lookup), "a<X>.b");
  EXPECT_EQ(ExpandEnv("${X}y", lookup), "<X>y");
  EXPECT_EQ(ExpandEnv("$$", lookup), "<$>");
  EXPECT_EQ(ExpandEnv("$1x", lookup), "<1>x");
  EXPECT_EQ(ExpandEnv("${}x", lookup), "x");     // bad syntax is eaten
  EXPECT_EQ(ExpandEnv("${abc", lookup), "abc");  // "${" eaten
  EXPECT_EQ(ExpandEnv("cost: $", lookup), "cost: $");
  EXPECT_EQ(ExpandEnv("a $ b", lookup), "a $ b");
  EXPECT_EQ(ExpandEnv("${A:-x}", lookup), "<A:-x>");
  EXPECT_EQ(ExpandEnv("no dollars", lookup), "no dollars");
}

TEST(ConfigEnv, LogLevelEnvOverridesFile) {
  ScopedEnv env("LOG_LEVEL", "warning");
  auto r = Parse("logging: {level: debug}\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->log_level, "warn");

  ScopedEnv bad("LOG_LEVEL", "loud");
  auto e = Parse("");
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(Contains(e.status().message(), "LOG_LEVEL")) << e.status().message();
}

// --- paths ------------------------------------------------------------------

TEST(ConfigPaths, TildeIsHomeAndRelativeIsAbsolute) {
  ScopedEnv home("HOME", "/home/tester");
  Config c = MustParse(R"(
dbs:
  - path: ~/data/app.db
    meta-path: ~/meta
    replica: {path: ~/backups/app/}
  - path: sqlite://rel/dir/../x.db
    replica: {url: "file:///abs/b"}
)");
  ASSERT_EQ(c.dbs.size(), 2u);
  EXPECT_EQ(c.dbs[0].path, "/home/tester/data/app.db");
  EXPECT_EQ(c.dbs[0].meta_path, "/home/tester/meta");
  EXPECT_EQ(c.dbs[0].replica.path, "/home/tester/backups/app");
  EXPECT_EQ(c.dbs[1].path, AbsPath("rel/x.db"));
  EXPECT_EQ(c.dbs[1].meta_path, AbsPath("rel/.x.db-litestream"));
  EXPECT_EQ(*ExpandPath("~"), "/home/tester");
  EXPECT_EQ(*ExpandPath("~user/x"), AbsPath("~user/x"));  // only "~" and "~/" expand
}

TEST(ConfigPaths, ReplicaConfigFromUrl) {
  auto s3 = ReplicaConfigFromUrl("s3://bucket/db");
  ASSERT_TRUE(s3.ok()) << s3.status().ToString();
  EXPECT_EQ(s3->type, "s3");
  EXPECT_EQ(s3->url, "s3://bucket/db");
  EXPECT_EQ(s3->sync_interval_ms, 1000);
  auto file = ReplicaConfigFromUrl("file:///backups/db");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->path, "/backups/db");
  auto gs = ReplicaConfigFromUrl("gs://bucket/db");
  ASSERT_FALSE(gs.ok());
  EXPECT_TRUE(Contains(gs.status().message(), "replica type gs is not supported by walship"));
  EXPECT_FALSE(ReplicaConfigFromUrl("/no/scheme").ok());
  EXPECT_FALSE(ReplicaConfigFromUrl("").ok());
}

// --- validation -------------------------------------------------------------

TEST(ConfigErrors, NamesFileDbKeyAndLine) {
  std::string m = MustFail(R"(dbs:
  - path: /data/one.db
    replica: {path: /b/one}
  - path: /data/app.db
    replica:
      path: /b/app
      sync-interval: 5
)");
  EXPECT_EQ(m,
            "config /etc/walship.yml: dbs[1] (/data/app.db): replica.sync-interval (line 7): invalid duration \"5\": "
            "want e.g. 500ms, 1s, 5m, 1h30m");
}

struct ErrorCase {
  const char* name;
  const char* yaml;
  const char* want;  // substring of the message
};

class ConfigValidation : public testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigValidation, Rejects) {
  const ErrorCase& c = GetParam();
  std::string m = MustFail(c.yaml);
  EXPECT_TRUE(Contains(m, c.want)) << "got: " << m << "\nwant: " << c.want;
}

const ErrorCase kErrorCases[] = {
    {"PathAndDir", "dbs:\n  - {path: /a.db, dir: /data, replica: {path: /b}}\n",
     "dbs[0] (/a.db): dir (line 2): cannot specify both 'path' and 'dir'"},
    {"NeitherPathNorDir", "dbs:\n  - replica: {path: /b}\n", "dbs[0]: must specify path:"},
    {"DirectoryMode", "dbs:\n  - {dir: /data, pattern: '*.db', replica: {path: /b}}\n",
     "dbs[0]: dir (line 2): directory mode (dir/pattern) is not supported by walship yet"},
    {"WatchWithoutDir", "dbs:\n  - {path: /a.db, watch: true, replica: {path: /b}}\n",
     "'watch' can only be enabled with a directory"},
    {"MetaDirWithoutDir", "dbs:\n  - {path: /a.db, meta-dir: /m, replica: {path: /b}}\n",
     "'meta-dir' can only be used with a directory"},
    {"NoReplica", "dbs:\n  - path: /a.db\n", "dbs[0] (/a.db): must specify a replica"},
    {"EmptyReplicasList", "dbs:\n  - {path: /a.db, replicas: []}\n", "dbs[0] (/a.db): must specify a replica"},
    {"ReplicaAndReplicas", "dbs:\n  - {path: /a.db, replica: {path: /b}, replicas: [{path: /c}]}\n",
     "cannot specify both 'replica' and 'replicas'"},
    {"TwoReplicas", "dbs:\n  - {path: /a.db, replicas: [{path: /b}, {path: /c}]}\n",
     "replicas (line 2): multiple replicas on a single database are not supported"},
    {"ZeroSyncInterval", "dbs:\n  - {path: /a.db, replica: {path: /b, sync-interval: 0s}}\n",
     "replica.sync-interval (line 2): must be greater than 0, got \"0s\""},
    {"NegativeGlobalSyncInterval", "sync-interval: -1s\n", "sync-interval (line 1): must be greater than 0"},
    {"ZeroMonitorInterval", "dbs:\n  - {path: /a.db, monitor-interval: 0, replica: {path: /b}}\n",
     "monitor-interval (line 2): must be greater than 0"},
    {"NegativeBusyTimeout", "dbs:\n  - {path: /a.db, busy-timeout: -1s, replica: {path: /b}}\n",
     "busy-timeout (line 2): must not be negative"},
    {"ZeroSnapshotInterval", "snapshot:\n  interval: 0s\n", "snapshot.interval (line 2): must be greater than 0"},
    {"ZeroSnapshotRetention", "snapshot:\n  retention: 0s\n", "snapshot.retention (line 2): must be greater than 0"},
    {"ZeroDbSnapshotInterval", "dbs:\n  - {path: /a.db, snapshot: {interval: 0s}, replica: {path: /b}}\n",
     "dbs[0] (/a.db): snapshot.interval (line 2): must be greater than 0"},
    {"ZeroLevelInterval", "levels:\n  - interval: 30s\n  - interval: 0s\n",
     "levels[1]: interval (line 3): must be greater than 0"},
    {"LevelWithoutInterval", "levels:\n  - {}\n", "levels[0]: interval: required"},
    {"NegativeL0Retention", "l0-retention: -5m\n", "l0-retention (line 1): must not be negative"},
    {"ZeroL0CheckInterval", "l0-retention-check-interval: 0s\n", "l0-retention-check-interval (line 1): must be"},
    {"ZeroShutdownSyncInterval", "shutdown-sync-interval: 0s\n", "shutdown-sync-interval (line 1): must be"},
    {"NegativeShutdownSyncTimeout", "shutdown-sync-timeout: -1s\n", "shutdown-sync-timeout (line 1): must not"},
    {"UrlAndPath", "dbs:\n  - {path: /a.db, replica: {url: 's3://b/p', path: /x}}\n",
     "replica.path (line 2): cannot specify both url and path"},
    {"UrlInPath", "dbs:\n  - {path: /a.db, replica: {path: 's3://bucket/p'}}\n",
     "replica.path (line 2): replica path cannot be a URL, use url: instead"},
    {"UrlWithoutScheme", "dbs:\n  - {path: /a.db, replica: {url: /backups}}\n", "replica url needs a scheme"},
    {"AgeEncryption", "dbs:\n  - {path: /a.db, replica: {path: /b, age: {recipients: [age1xyz]}}}\n",
     "replica.age (line 2): age encryption is not supported"},
    {"GlobalAgeEncryption", "age:\n  identities: [x]\n", "age (line 1): age encryption is not supported"},
    {"SseRejected", "dbs:\n  - {path: /a.db, replica: {url: 's3://b/p', sse-kms-key-id: k}}\n",
     "sse-kms-key-id (line 2): S3 server-side encryption is not supported by walship yet"},
    {"UnsupportedTypeFromUrl", "dbs:\n  - {path: /a.db, replica: {url: 'gs://b/p'}}\n",
     "replica.url (line 2): replica type gs is not supported by walship"},
    {"UnsupportedTypeKey", "dbs:\n  - {path: /a.db, replica: {type: sftp, path: /x}}\n",
     "replica.type (line 2): replica type sftp is not supported by walship"},
    {"UnknownType", "dbs:\n  - {path: /a.db, replica: {type: floppy, path: /x}}\n",
     "unknown replica type \"floppy\" (want file or s3)"},
    {"S3WithoutBucket", "dbs:\n  - {path: /a.db, replica: {type: s3, path: x}}\n",
     "replica.bucket: bucket required for s3 replica"},
    {"S3UrlAndGlobalBucket", "bucket: b\ndbs:\n  - {path: /a.db, replica: {url: 's3://b/p'}}\n",
     "replica.bucket: cannot specify both url and bucket"},
    {"FileReplicaWithoutPath", "dbs:\n  - {path: /a.db, replica: {type: file}}\n", "file replica path required"},
    {"FileUrlWithoutPath", "dbs:\n  - {path: /a.db, replica: {url: 'file://'}}\n", "file replica path required"},
    {"DuplicateKey", "dbs:\n  - path: /a.db\n    path: /b.db\n    replica: {path: /b}\n",
     "dbs[0] (/a.db): line 3: key \"path\" is already defined on line 2"},
    {"SameDbTwice", "dbs:\n  - {path: /a.db, replica: {path: /b}}\n  - {path: /x/../a.db, replica: {path: /c}}\n",
     "dbs[1] (/a.db): path: same database as dbs[0]"},
    {"SameMetaPath",
     "dbs:\n  - {path: /a.db, meta-path: /m, replica: {path: /b}}\n"
     "  - {path: /b.db, meta-path: /m, replica: {path: /c}}\n",
     "meta-path: /m is also used by dbs[0]"},
    {"BadBool", "dbs:\n  - {path: /a.db, restore-if-db-not-exists: maybe, replica: {path: /b}}\n",
     "restore-if-db-not-exists (line 2): want true or false, got \"maybe\""},
    {"BadInt", "dbs:\n  - {path: /a.db, max-sync-wal-bytes: 64MB, replica: {path: /b}}\n",
     "max-sync-wal-bytes (line 2): want a whole number, got \"64MB\""},
    {"BadByteSize", "part-size: lots\n", "part-size (line 1): invalid size \"lots\""},
    {"BadByteSizeDot", "part-size: .\n", "part-size (line 1): invalid size"},
    {"ZeroConcurrency", "concurrency: 0\n", "concurrency (line 1): must be greater than 0"},
    {"NegativeMinCheckpointPages", "dbs:\n  - {path: /a.db, min-checkpoint-page-count: -1, replica: {path: /b}}\n",
     "min-checkpoint-page-count (line 2): must not be negative"},
    {"NegativeHandoffFrames", "dbs:\n  - {path: /a.db, handoff-frames: -1, replica: {path: /b}}\n",
     "handoff-frames (line 2): must not be negative"},
    {"DurationIsList", "l0-retention: [1s]\n", "l0-retention (line 1): want a single value, got a list"},
    {"StringIsMap", "dbs:\n  - {path: {a: b}, replica: {path: /b}}\n", "path (line 2): want a string, got a mapping"},
    {"UnknownLogLevel", "logging:\n  level: loud\n", "logging.level (line 2): unknown log level \"loud\""},
    {"UnknownLogType", "logging:\n  type: xml\n", "logging.type (line 2): unknown log type \"xml\""},
    {"DbsNotAList", "dbs:\n  path: /a.db\n", "dbs (line 1): want a list of databases"},
    {"DbNotAMapping", "dbs:\n  - /a.db\n", "dbs[0]: want a mapping with path: and replica:, got a scalar"},
    {"ReplicaNotAMapping", "dbs:\n  - {path: /a.db, replica: s3://b/p}\n", "replica: want a mapping"},
    {"TopLevelNotAMapping", "- path: /a.db\n", "the top level must be a mapping"},
};

INSTANTIATE_TEST_SUITE_P(All, ConfigValidation, testing::ValuesIn(kErrorCases),
                         [](const testing::TestParamInfo<ErrorCase>& i) { return std::string(i.param.name); });

TEST(ConfigErrors, MergeKeyIsNamed) {
  std::string m = MustFail("dbs:\n  - {<<: {path: /b}}\n");
  EXPECT_TRUE(Contains(m, "YAML merge keys are not supported")) << m;
}

// --- unknown and unimplemented keys ------------------------------------------

TEST(ConfigKeys, UnknownKeyWithSuggestionAndLine) {
  std::string m = MustFail(R"(dbs:
  - path: /data/app.db
    replica:
      path: /b
      sync-intervall: 5s
)");
  EXPECT_EQ(m,
            "config /etc/walship.yml: dbs[0] (/data/app.db): line 5: unknown key \"replica.sync-intervall\"; did you "
            "mean \"sync-interval\"?");
  EXPECT_TRUE(Contains(MustFail("dbz: []\n"), "line 1: unknown key \"dbz\"; did you mean \"dbs\"?"));
  EXPECT_TRUE(Contains(MustFail("Snapshot: {interval: 1h}\n"), "did you mean \"snapshot\"?"));
  EXPECT_TRUE(Contains(MustFail("snapshot: {intreval: 1h}\n"), "unknown key \"snapshot.intreval\"; did you mean"));
}

TEST(ConfigKeys, UnknownKeyWithoutSuggestion) {
  std::string m = MustFail("\n\nfrobnicate: true\n");
  EXPECT_EQ(m, "config /etc/walship.yml: line 3: unknown key \"frobnicate\"");
}

TEST(ConfigKeys, MisplacedKeyGetsAHint) {
  std::string m = MustFail(R"(dbs:
  - path: /data/app.db
    sync-interval: 5s
    replica: {path: /b}
)");
  EXPECT_TRUE(Contains(m,
                       "line 3: unknown key \"sync-interval\": sync-interval is a replica key; put it under "
                       "replica:"))
      << m;
  EXPECT_TRUE(Contains(MustFail("path: /data/app.db\n"), "path is a per-database key"));
  EXPECT_TRUE(Contains(MustFail("dbs:\n  - {path: /a.db, replica: {path: /b, monitor-interval: 1s}}\n"),
                       "monitor-interval is a per-database key"));
}

TEST(ConfigKeys, KnownButUnimplementedKeysWarn) {
  Config c = MustParse(R"(addr: ":9090"
socket:
  enabled: true
mcp-addr: ":3001"
heartbeat-url: https://hc.example/ping
heartbeat-interval: 5m
validation: {interval: 1h}
verify-compaction: true
validation-interval: 1h
password: hunter2hunter2
logging:
  stderr: true
dbs:
  - path: /data/app.db
    recursive: true
    watch: false
    replica:
      name: old-name
      path: /b
)");
  ASSERT_EQ(c.dbs.size(), 1u);
  std::vector<std::string> want = {
      "config /etc/walship.yml: addr (line 1): not implemented by walship yet; ignored",
      "config /etc/walship.yml: socket (line 2): not implemented",
      "mcp-addr (line 4)",
      "heartbeat-url (line 5)",
      "heartbeat-interval (line 6)",
      "validation (line 7)",
      "verify-compaction (line 8)",
      "validation-interval (line 9)",
      "password (line 10): only used by gs/abs/sftp/webdav/nats/oss replicas",
      "logging.stderr (line 12)",
      "dbs[0] (/data/app.db): recursive (line 15): only used in directory mode",
      "dbs[0] (/data/app.db): watch (line 16)",
      "dbs[0] (/data/app.db): replica.name (line 18): deprecated; ignored",
  };
  ASSERT_EQ(c.warnings.size(), want.size());
  for (size_t i = 0; i < want.size(); i++) {
    EXPECT_TRUE(Contains(c.warnings[i], want[i])) << c.warnings[i] << "\nwant: " << want[i];
    EXPECT_FALSE(Contains(c.warnings[i], "hunter2hunter2"));
  }
}

// --- YAML syntax ------------------------------------------------------------

TEST(ConfigSyntax, ReportsLineAndColumn) {
  std::string m = MustFail("dbs:\n  - path: /a.db\n    replica:\n      path: /b\n   oops: 1\n");
  EXPECT_TRUE(Contains(m, "config /etc/walship.yml: line ")) << m;
  EXPECT_TRUE(Contains(m, ", column ")) << m;
  EXPECT_TRUE(Contains(m, "invalid YAML")) << m;
  EXPECT_EQ(MustFail("a: b: c\n"), "config /etc/walship.yml: line 1, column 5: invalid YAML: illegal map value");
}

// --- a realistic Litestream config --------------------------------------------

// Modelled on Litestream's documentation: an S3 replica by URL with
// credentials from the environment, a second database with a file replica
// given by path, global settings, and comments.
constexpr std::string_view kLitestreamSample = R"(# /etc/litestream.yml
access-key-id: ${WALSHIP_TEST_AWS_KEY_ID}
secret-access-key: ${WALSHIP_TEST_AWS_SECRET}

logging:
  level: info
  type: text

snapshot:
  interval: 24h
  retention: 168h

dbs:
  - path: /var/lib/app/app.db
    replica:
      url: s3://my-backups.example/app
      sync-interval: 1s

  - path: /var/lib/app/queue.db
    monitor-interval: 1s
    checkpoint-interval: 1m
    replica:
      type: file
      path: /mnt/backups/queue
)";

TEST(ConfigSample, LitestreamDocsStyleConfigParses) {
  ScopedEnv id("WALSHIP_TEST_AWS_KEY_ID", "AKIAIOSFODNN7EXAMPLE");
  ScopedEnv secret("WALSHIP_TEST_AWS_SECRET", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  Config c = MustParse(kLitestreamSample);
  EXPECT_TRUE(c.warnings.empty());
  ASSERT_EQ(c.dbs.size(), 2u);
  EXPECT_EQ(c.snapshot_retention_ms, 168 * 3'600'000);
  const ReplicaConfig& s3 = c.dbs[0].replica;
  EXPECT_EQ(s3.type, "s3");
  EXPECT_EQ(s3.url, "s3://my-backups.example/app");
  EXPECT_EQ(s3.access_key_id, "AKIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(s3.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  const ReplicaConfig& file = c.dbs[1].replica;
  EXPECT_EQ(file.type, "file");
  EXPECT_EQ(file.path, "/mnt/backups/queue");
  EXPECT_EQ(file.access_key_id, "AKIAIOSFODNN7EXAMPLE");  // copied to every replica, as in Litestream
  EXPECT_EQ(c.dbs[1].meta_path, "/var/lib/app/.queue.db-litestream");
}

// --- secrets ----------------------------------------------------------------

TEST(ConfigSecrets, NeverAppearInErrors) {
  const std::string kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  ScopedEnv secret("WALSHIP_TEST_AWS_SECRET", kSecret);
  // An ordinary error elsewhere in a config holding a secret.
  std::string m = MustFail(R"(
secret-access-key: ${WALSHIP_TEST_AWS_SECRET}
dbs:
  - path: /a.db
    replica: {url: 's3://b/p', sync-interval: nope}
)");
  EXPECT_TRUE(Contains(m, "sync-interval")) << m;
  EXPECT_FALSE(Contains(m, kSecret)) << m;
  // The secret pasted into the wrong key: the echoed value is redacted.
  m = MustFail(R"(
dbs:
  - path: /a.db
    replica:
      url: s3://b/p
      secret-access-key: ${WALSHIP_TEST_AWS_SECRET}
      concurrency: ${WALSHIP_TEST_AWS_SECRET}
)");
  EXPECT_TRUE(Contains(m, "concurrency (line 7): want a whole number, got \"<redacted>\"")) << m;
  EXPECT_FALSE(Contains(m, kSecret)) << m;
  // A URL password is not echoed either.
  m = MustFail("dbs:\n  - {path: /a.db, replica: {path: 'sftp://user:pa55word-x@host/p'}}\n");
  EXPECT_TRUE(Contains(m, "replica path cannot be a URL")) << m;
  EXPECT_FALSE(Contains(m, "pa55word-x")) << m;
  // Broken structure that turns the secret into (part of) a key.
  m = MustFail("dbs: []\nsecret-access-key:" + kSecret + "\n");
  EXPECT_TRUE(Contains(m, "line 2: unknown key (not shown")) << m;
  EXPECT_FALSE(Contains(m, kSecret)) << m;
  m = MustFail("dbs: []\nsecret-access-key " + kSecret + "\n");
  EXPECT_FALSE(Contains(m, kSecret)) << m;
  // A YAML syntax error in a file with a secret.
  m = MustFail("secret-access-key: " + kSecret + "\ndbs: [\n");
  EXPECT_FALSE(Contains(m, kSecret)) << m;
}

// --- files ------------------------------------------------------------------

TEST(ConfigFile, LoadsAndNamesTheFile) {
  char tmpl[] = "/tmp/walship-config-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string path = dir + "/walship.yml";
  {
    std::ofstream f(path);
    f << kOneDb;
  }
  auto c = LoadConfigFile(path, true);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->dbs.size(), 1u);
  {
    std::ofstream f(path);
    f << "dbs:\n  - path: /a.db\n";
  }
  auto bad = LoadConfigFile(path, true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "config " + path +
                                        ": dbs[0] (/a.db): must specify a replica (replica: with url: "
                                        "or type:/path:)");
  auto missing = LoadConfigFile(dir + "/nope.yml", true);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_TRUE(Contains(missing.status().message(), "config file not found: " + dir + "/nope.yml"));
  ASSERT_TRUE(RemoveTree(dir).ok());
}

}  // namespace
}  // namespace walship::daemon
