#include "daemon/config.h"

// Implementation notes.
//  - yaml-cpp throws; every YAML::Exception is caught in ParseConfig and turned
//    into a Status. Nothing else here throws (ParseByteSize input is
//    pre-checked because it calls std::stod).
//  - Each YAML mapping is read through a Section (config_section.h), which
//    first checks every key against the tables below (unknown -> error with a hint, known but not
//    implemented -> warning, dangerous-to-ignore -> error), then reads values.
//  - Errors are assembled without the "config FILE: " prefix; ParseConfig adds
//    it and scrubs every secret value found in the document from the message.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <utility>

#include "base/file.h"
#include "base/timefmt.h"
#include "daemon/config_section.h"
#include "daemon/config_util.h"

namespace walship::daemon {
namespace {

using config_internal::Bound;
using config_internal::FilePathFromUrl;
using config_internal::IsUrl;
using config_internal::KeyKind;
using config_internal::KeySpec;
using config_internal::KindName;
using config_internal::Lower;
using config_internal::ParseState;
using config_internal::Quote;
using config_internal::Redact;
using config_internal::RedactUrl;
using config_internal::Section;
using config_internal::UrlPassword;

// ---------------------------------------------------------------------------
// Secrets: every value that must never reach an error message or warning.

constexpr std::string_view kSecretKeys[] = {
    "secret-access-key", "account-key", "sas-token", "password", "webdav-password", "token", "seed", "nkey", "jwt",
    "sse-customer-key",
};

void CollectSecrets(const YAML::Node& node, std::vector<std::string>* out) {
  if (node.IsSequence()) {
    for (const auto& item : node) CollectSecrets(item, out);
    return;
  }
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    const std::string& key = kv.first.Scalar();
    if (kv.second.IsScalar()) {
      const std::string& v = kv.second.Scalar();
      bool secret = std::find(std::begin(kSecretKeys), std::end(kSecretKeys), key) != std::end(kSecretKeys);
      if (secret) out->push_back(v);
      if (std::string pw = UrlPassword(v); !pw.empty()) out->push_back(pw);
    } else {
      CollectSecrets(kv.second, out);
    }
  }
}

// A backstop for documents whose structure is broken, where a secret can end
// up inside a key: whatever follows a secret key name on its line.
void CollectSecretsFromText(std::string_view text, std::vector<std::string>* out) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    for (std::string_view key : kSecretKeys) {
      size_t pos = line.find(key);
      if (pos == std::string_view::npos) continue;
      std::string_view rest = line.substr(pos + key.size());
      size_t b = rest.find_first_not_of(" \t:=\"'");
      if (b == std::string_view::npos) continue;
      rest = rest.substr(b, rest.find_last_not_of(" \t\r\"'") + 1 - b);
      out->emplace_back(rest);                                          // the rest of the line
      out->emplace_back(rest.substr(0, rest.find_first_of(" \t\"'")));  // its first word
    }
  }
}

// ---------------------------------------------------------------------------
// Key tables.

constexpr std::string_view kNotYet = "not implemented by walship yet; ignored";
constexpr std::string_view kOtherBackend =
    "only used by gs/abs/sftp/webdav/nats/oss replicas, which walship does not support; ignored";
constexpr std::string_view kNoSse =
    "S3 server-side encryption is not supported by walship yet (refusing to upload unencrypted)";
constexpr std::string_view kNoDirMode =
    "directory mode (dir/pattern) is not supported by walship yet; list each database with path:";

constexpr KeySpec kTopKeys[] = {
    {"dbs"},
    {"levels"},
    {"snapshot"},
    {"l0-retention"},
    {"l0-retention-check-interval"},
    {"retention"},
    {"shutdown-sync-timeout"},
    {"shutdown-sync-interval"},
    {"logging"},
    {"addr", KeyKind::kIgnored, kNotYet},
    {"socket", KeyKind::kIgnored, kNotYet},
    {"validation", KeyKind::kIgnored, kNotYet},
    {"verify-compaction", KeyKind::kIgnored, kNotYet},
    {"heartbeat-url", KeyKind::kIgnored, kNotYet},
    {"heartbeat-interval", KeyKind::kIgnored, kNotYet},
    {"exec"},
    {"mcp-addr", KeyKind::kIgnored, kNotYet},
};

// Allowed on a replica and, as defaults for every replica, at the top level.
constexpr KeySpec kReplicaSettingKeys[] = {
    {"sync-interval"},
    {"max-sync-ltx-files"},
    {"auto-recover"},
    {"access-key-id"},
    {"secret-access-key"},
    {"region"},
    {"bucket"},
    {"endpoint"},
    {"force-path-style"},
    {"sign-payload"},
    {"require-content-md5"},
    {"skip-verify"},
    {"storage-class"},
    {"part-size"},
    {"concurrency"},
    {"validation-interval", KeyKind::kIgnored, "unused (Litestream ignores it too)"},
    {"sse-customer-algorithm", KeyKind::kRejected, kNoSse},
    {"sse-customer-key", KeyKind::kRejected, kNoSse},
    {"sse-customer-key-path", KeyKind::kRejected, kNoSse},
    {"sse-kms-key-id", KeyKind::kRejected, kNoSse},
    {"age", KeyKind::kRejected,
     "age encryption is not supported (Litestream v0.5 rejects it too; it was dropped with the LTX format)"},
    {"account-name", KeyKind::kIgnored, kOtherBackend},
    {"account-key", KeyKind::kIgnored, kOtherBackend},
    {"sas-token", KeyKind::kIgnored, kOtherBackend},
    {"host", KeyKind::kIgnored, kOtherBackend},
    {"user", KeyKind::kIgnored, kOtherBackend},
    {"password", KeyKind::kIgnored, kOtherBackend},
    {"key-path", KeyKind::kIgnored, kOtherBackend},
    {"concurrent-writes", KeyKind::kIgnored, kOtherBackend},
    {"host-key", KeyKind::kIgnored, kOtherBackend},
    {"webdav-url", KeyKind::kIgnored, kOtherBackend},
    {"webdav-username", KeyKind::kIgnored, kOtherBackend},
    {"webdav-password", KeyKind::kIgnored, kOtherBackend},
    {"jwt", KeyKind::kIgnored, kOtherBackend},
    {"seed", KeyKind::kIgnored, kOtherBackend},
    {"creds", KeyKind::kIgnored, kOtherBackend},
    {"nkey", KeyKind::kIgnored, kOtherBackend},
    {"username", KeyKind::kIgnored, kOtherBackend},
    {"token", KeyKind::kIgnored, kOtherBackend},
    {"tls", KeyKind::kIgnored, kOtherBackend},
    {"root-cas", KeyKind::kIgnored, kOtherBackend},
    {"client-cert", KeyKind::kIgnored, kOtherBackend},
    {"client-key", KeyKind::kIgnored, kOtherBackend},
    {"max-reconnects", KeyKind::kIgnored, kOtherBackend},
    {"reconnect-wait", KeyKind::kIgnored, kOtherBackend},
    {"timeout", KeyKind::kIgnored, kOtherBackend},
};

constexpr KeySpec kReplicaOnlyKeys[] = {
    {"type"}, {"url"}, {"path"}, {"name", KeyKind::kIgnored, "deprecated; ignored"}};

constexpr KeySpec kDbKeys[] = {
    {"path"},
    {"meta-path"},
    {"monitor-interval"},
    {"checkpoint-interval"},
    {"busy-timeout"},
    {"min-checkpoint-page-count"},
    {"handoff-frames"},
    {"truncate-page-n"},
    {"max-sync-wal-bytes"},
    {"restore-if-db-not-exists"},
    {"replica"},
    {"replicas"},
    {"snapshot"},
    {"dir", KeyKind::kRejected, kNoDirMode},
    {"pattern", KeyKind::kRejected, kNoDirMode},
    {"meta-dir", KeyKind::kRejected, "'meta-dir' can only be used with a directory (dir:)"},
    {"recursive", KeyKind::kIgnored, "only used in directory mode; ignored"},
    {"watch", KeyKind::kIgnored, "only used in directory mode; ignored"},
};

constexpr KeySpec kSnapshotKeys[] = {{"interval"}, {"retention"}};
constexpr KeySpec kRetentionKeys[] = {{"enabled"}};
constexpr KeySpec kLevelKeys[] = {{"interval"}};
constexpr KeySpec kLoggingKeys[] = {
    {"level"}, {"type"}, {"stderr", KeyKind::kIgnored, kNotYet}, {"source", KeyKind::kIgnored, kNotYet}};

// ---------------------------------------------------------------------------
// Replicas.

// Replica settings as written, before global defaults are merged in. Empty
// strings count as unset, as in Litestream.
struct RawReplica {
  std::optional<int64_t> sync_interval_ms;
  std::optional<int64_t> max_sync_ltx_files;
  std::optional<bool> auto_recover;
  std::string bucket, endpoint, region, access_key_id, secret_access_key, storage_class;
  std::optional<bool> force_path_style, sign_payload, require_content_md5, skip_verify;
  std::optional<uint64_t> part_size;
  std::optional<int64_t> concurrency;
};

Status ReadReplicaSettings(const Section& s, RawReplica* r) {
  WALSHIP_RETURN_IF_ERROR(s.ReadDuration("sync-interval", Bound::kPositive, &r->sync_interval_ms));
  WALSHIP_RETURN_IF_ERROR(s.ReadInt("max-sync-ltx-files", Bound::kNonNegative, &r->max_sync_ltx_files));
  WALSHIP_RETURN_IF_ERROR(s.ReadBool("auto-recover", &r->auto_recover));
  WALSHIP_RETURN_IF_ERROR(s.ReadString("access-key-id", &r->access_key_id));
  WALSHIP_RETURN_IF_ERROR(s.ReadString("secret-access-key", &r->secret_access_key));
  WALSHIP_RETURN_IF_ERROR(s.ReadString("region", &r->region));
  WALSHIP_RETURN_IF_ERROR(s.ReadString("bucket", &r->bucket));
  WALSHIP_RETURN_IF_ERROR(s.ReadString("endpoint", &r->endpoint));
  WALSHIP_RETURN_IF_ERROR(s.ReadBool("force-path-style", &r->force_path_style));
  WALSHIP_RETURN_IF_ERROR(s.ReadBool("sign-payload", &r->sign_payload));
  WALSHIP_RETURN_IF_ERROR(s.ReadBool("require-content-md5", &r->require_content_md5));
  WALSHIP_RETURN_IF_ERROR(s.ReadBool("skip-verify", &r->skip_verify));
  WALSHIP_RETURN_IF_ERROR(s.ReadString("storage-class", &r->storage_class));
  WALSHIP_RETURN_IF_ERROR(s.ReadByteSize("part-size", &r->part_size));
  WALSHIP_RETURN_IF_ERROR(s.ReadInt("concurrency", Bound::kPositive, &r->concurrency));
  if (r->concurrency && *r->concurrency > 1'000'000) return s.Fail("concurrency", "is unreasonably large");
  return Status::OK();
}

// Litestream's ReplicaSettings.SetDefaults: unset fields take the global value.
void MergeDefaults(const RawReplica& g, RawReplica* r) {
  auto str = [](std::string* dst, const std::string& src) {
    if (dst->empty()) *dst = src;
  };
  if (!r->sync_interval_ms) r->sync_interval_ms = g.sync_interval_ms;
  if (!r->max_sync_ltx_files) r->max_sync_ltx_files = g.max_sync_ltx_files;
  if (!r->auto_recover) r->auto_recover = g.auto_recover;
  str(&r->bucket, g.bucket);
  str(&r->endpoint, g.endpoint);
  str(&r->region, g.region);
  str(&r->access_key_id, g.access_key_id);
  str(&r->secret_access_key, g.secret_access_key);
  str(&r->storage_class, g.storage_class);
  if (!r->force_path_style) r->force_path_style = g.force_path_style;
  if (!r->sign_payload) r->sign_payload = g.sign_payload;
  if (!r->require_content_md5) r->require_content_md5 = g.require_content_md5;
  // Litestream: a global `skip-verify: true` wins even over a per-replica false.
  r->skip_verify = r->skip_verify.value_or(false) || g.skip_verify.value_or(false);
  if (!r->part_size) r->part_size = g.part_size;
  if (!r->concurrency) r->concurrency = g.concurrency;
}

using FailFn = std::function<Status(std::string_view key, std::string_view msg)>;

// Type, URL and path rules shared by config replicas and ReplicaConfigFromUrl.
Result<ReplicaConfig> ResolveReplica(const RawReplica& r, std::string type, const std::string& url,
                                     const std::string& path, const FailFn& fail, std::string* type_note) {
  if (IsUrl(path)) {
    return fail("path", "replica path cannot be a URL, use url: instead (got " + Quote(RedactUrl(path)) + ")");
  }
  if (!url.empty()) {
    if (!IsUrl(url)) {
      return fail("url", "replica url needs a scheme, e.g. s3://BUCKET/PATH or file:///PATH (got " +
                             Quote(RedactUrl(url)) + ")");
    }
    std::string scheme = Lower(url.substr(0, url.find("://")));
    if (scheme == "webdavs") scheme = "webdav";
    if (!type.empty() && type != scheme && type_note) {
      *type_note = "type " + Quote(type) + " is overridden by the url scheme " + Quote(scheme);
    }
    type = scheme;
  }
  if (type.empty()) type = "file";
  std::string_view type_key = url.empty() ? "type" : "url";
  if (type != "file" && type != "s3") {
    constexpr std::string_view kKnown[] = {"gs", "abs", "sftp", "webdav", "nats", "oss"};
    if (std::find(std::begin(kKnown), std::end(kKnown), type) != std::end(kKnown)) {
      return fail(type_key, "replica type " + type + " is not supported by walship (want file or s3)");
    }
    return fail(type_key, "unknown replica type " + Quote(type) + " (want file or s3)");
  }
  if (!url.empty() && !path.empty()) return fail("path", "cannot specify both url and path");

  ReplicaConfig rc;
  rc.type = type;
  rc.url = url;
  rc.sync_interval_ms = r.sync_interval_ms.value_or(rc.sync_interval_ms);
  rc.max_sync_ltx_files = r.max_sync_ltx_files.value_or(rc.max_sync_ltx_files);
  rc.auto_recover = r.auto_recover.value_or(false);
  rc.bucket = r.bucket;
  rc.endpoint = r.endpoint;
  rc.region = r.region;
  rc.access_key_id = r.access_key_id;
  rc.secret_access_key = r.secret_access_key;
  rc.force_path_style = r.force_path_style;
  rc.sign_payload = r.sign_payload;
  rc.require_content_md5 = r.require_content_md5;
  rc.skip_verify = r.skip_verify.value_or(false);
  rc.part_size = r.part_size;
  if (r.concurrency) rc.concurrency = int(*r.concurrency);
  rc.storage_class = r.storage_class;

  if (type == "s3") {
    if (!url.empty() && !r.bucket.empty()) {
      return fail("bucket", "cannot specify both url and bucket (bucket may come from the top-level defaults)");
    }
    if (url.empty() && r.bucket.empty()) {
      return fail("bucket", "bucket required for s3 replica (set bucket: or url: s3://BUCKET/PATH)");
    }
    rc.path = path;
    return rc;
  }
  std::string local = url.empty() ? path : FilePathFromUrl(url);
  if (local.empty()) return fail(url.empty() ? "path" : "url", "file replica path required");
  auto abs = ExpandPath(local);
  if (!abs.ok()) return fail(url.empty() ? "path" : "url", abs.status().message());
  rc.path = *abs;
  return rc;
}

Result<ReplicaConfig> ParseReplica(ParseState* st, const YAML::Node& node, const std::string& where,
                                   const std::string& prefix, const RawReplica& global) {
  std::string name = prefix.substr(0, prefix.size() - 1);  // without the '.'
  if (!node.IsMap()) {
    return InvalidArgument(where + ": " + name + ": want a mapping (url: or type:/path:), got " +
                           std::string(KindName(node)));
  }
  Section s(st, node, where, prefix);
  WALSHIP_RETURN_IF_ERROR(s.CheckKeys(
      {kReplicaOnlyKeys, kReplicaSettingKeys},
      {{kDbKeys, "is a per-database key; put it beside replica:, not under it"}, {kTopKeys, "is a top-level key"}}));
  RawReplica raw;
  WALSHIP_RETURN_IF_ERROR(ReadReplicaSettings(s, &raw));
  MergeDefaults(global, &raw);
  std::string type, url, path;
  WALSHIP_RETURN_IF_ERROR(s.ReadString("type", &type));
  WALSHIP_RETURN_IF_ERROR(s.ReadString("url", &url));
  WALSHIP_RETURN_IF_ERROR(s.ReadString("path", &path));
  std::string note;
  auto fail = [&s](std::string_view key, std::string_view msg) { return s.Fail(key, msg); };
  WALSHIP_ASSIGN_OR_RETURN(ReplicaConfig rc, ResolveReplica(raw, type, url, path, fail, &note));
  if (!note.empty()) st->warnings.push_back(st->source + ": " + where + ": " + name + ": " + note);
  return rc;
}

// ---------------------------------------------------------------------------
// Databases.

// A per-DB snapshot value, kept to check that all DBs agree.
struct DbSnapshotValue {
  std::optional<int64_t> ms;
  std::string db;
};

struct DbSnapshot {
  DbSnapshotValue interval, retention;
};

Status MergeDbSnapshot(DbSnapshotValue* acc, const DbSnapshotValue& v, std::string_view what) {
  if (!v.ms) return Status::OK();
  if (acc->ms && *acc->ms != *v.ms) {
    return InvalidArgument("conflicting database snapshot " + std::string(what) + ": " + acc->db + " has " +
                           FormatDurationMs(*acc->ms) + ", " + v.db + " has " + FormatDurationMs(*v.ms) +
                           " (set snapshot: at the top level instead)");
  }
  *acc = v;
  return Status::OK();
}

Status ReadSnapshotSection(ParseState* st, const Section& parent, std::string_view where, int64_t* interval,
                           int64_t* retention, DbSnapshot* per_db) {
  YAML::Node n = parent.Get("snapshot");
  if (!n || n.IsNull()) return Status::OK();
  if (!n.IsMap()) return parent.Fail("snapshot", "want a mapping with interval: and retention:");
  Section s(st, n, std::string(where), "snapshot.");
  WALSHIP_RETURN_IF_ERROR(s.CheckKeys({kSnapshotKeys}, {}));
  if (per_db) {
    per_db->interval.db = per_db->retention.db = std::string(where);
    WALSHIP_RETURN_IF_ERROR(s.ReadDuration("interval", Bound::kPositive, &per_db->interval.ms));
    return s.ReadDuration("retention", Bound::kPositive, &per_db->retention.ms);
  }
  WALSHIP_RETURN_IF_ERROR(s.ReadDuration("interval", Bound::kPositive, interval));
  return s.ReadDuration("retention", Bound::kPositive, retention);
}

Result<DbConfig> ParseDb(ParseState* st, const YAML::Node& node, size_t index, const RawReplica& global,
                         DbSnapshot* snapshot) {
  std::string where = "dbs[" + std::to_string(index) + "]";
  if (!node.IsMap()) {
    return InvalidArgument(where + ": want a mapping with path: and replica:, got " + std::string(KindName(node)));
  }
  std::string raw_path;
  if (const YAML::Node p = node["path"]; p && p.IsScalar()) raw_path = p.Scalar();
  if (!raw_path.empty()) where += " (" + raw_path + ")";
  Section s(st, node, where, "");
  if (s.Has("path") && s.Has("dir")) return s.Fail("dir", "cannot specify both 'path' and 'dir'");
  WALSHIP_RETURN_IF_ERROR(s.CheckKeys({kDbKeys}, {{kReplicaSettingKeys, "is a replica key; put it under replica:"},
                                                  {kReplicaOnlyKeys, "is a replica key; put it under replica:"},
                                                  {kTopKeys, "is a top-level key, not a per-database one"}}));
  bool watch = false;
  WALSHIP_RETURN_IF_ERROR(s.ReadBool("watch", &watch));
  if (watch) return s.Fail("watch", "'watch' can only be enabled with a directory (dir:)");

  DbConfig db;
  WALSHIP_RETURN_IF_ERROR(s.ReadString("path", &raw_path));
  if (raw_path.empty()) {
    return InvalidArgument(where + ": must specify path: (directory mode with dir: is not supported by walship yet)");
  }
  auto path = ExpandPath(raw_path);
  if (!path.ok()) return s.Fail("path", path.status().message());
  db.path = *path;
  std::string meta;
  WALSHIP_RETURN_IF_ERROR(s.ReadString("meta-path", &meta));
  if (meta.empty()) {
    db.meta_path = DefaultMetaPath(db.path);
  } else {
    auto m = ExpandPath(meta);
    if (!m.ok()) return s.Fail("meta-path", m.status().message());
    db.meta_path = *m;
  }
  WALSHIP_RETURN_IF_ERROR(s.ReadDuration("monitor-interval", Bound::kPositive, &db.monitor_interval_ms));
  WALSHIP_RETURN_IF_ERROR(s.ReadDuration("checkpoint-interval", Bound::kNonNegative, &db.checkpoint_interval_ms));
  WALSHIP_RETURN_IF_ERROR(s.ReadDuration("busy-timeout", Bound::kNonNegative, &db.busy_timeout_ms));
  WALSHIP_RETURN_IF_ERROR(s.ReadInt("min-checkpoint-page-count", Bound::kNonNegative, &db.min_checkpoint_page_count));
  WALSHIP_RETURN_IF_ERROR(s.ReadInt("handoff-frames", Bound::kNonNegative, &db.handoff_frames));
  WALSHIP_RETURN_IF_ERROR(s.ReadInt("truncate-page-n", Bound::kAny, &db.truncate_page_n));
  if (db.truncate_page_n == 0) db.truncate_page_n = DbConfig().truncate_page_n;
  if (const YAML::Node n = s.Get("truncate-page-n"); n && !n.IsNull()) {
    st->warnings.push_back(st->source + ": " + where + ": truncate-page-n (line " + std::to_string(n.Mark().line + 1) +
                           "): the emergency TRUNCATE checkpoint is not implemented by walship yet; ignored");
  }
  WALSHIP_RETURN_IF_ERROR(s.ReadInt("max-sync-wal-bytes", Bound::kNonNegative, &db.max_sync_wal_bytes));
  WALSHIP_RETURN_IF_ERROR(s.ReadBool("restore-if-db-not-exists", &db.restore_if_db_not_exists));
  WALSHIP_RETURN_IF_ERROR(ReadSnapshotSection(st, s, where, nullptr, nullptr, snapshot));

  const YAML::Node one = s.Get("replica");
  const YAML::Node list = s.Get("replicas");
  bool has_one = one && !one.IsNull();
  bool has_list = list && !list.IsNull();
  if (has_one && has_list) return s.Fail("replicas", "cannot specify both 'replica' and 'replicas'");
  if (has_list && !list.IsSequence()) return s.Fail("replicas", "want a list (deprecated; prefer replica:)");
  if (has_list && list.size() > 1) {
    return s.Fail("replicas",
                  "multiple replicas on a single database are not supported (Litestream v0.5 "
                  "dropped them too); keep one");
  }
  if (!has_one && (!has_list || list.size() == 0)) {
    return InvalidArgument(where + ": must specify a replica (replica: with url: or type:/path:)");
  }
  WALSHIP_ASSIGN_OR_RETURN(db.replica, has_one ? ParseReplica(st, one, where, "replica.", global)
                                               : ParseReplica(st, list[0], where, "replicas[0].", global));
  return db;
}

// ---------------------------------------------------------------------------
// The whole document.

Status ParseLevels(ParseState* st, const Section& top, Config* cfg) {
  const YAML::Node n = top.Get("levels");
  if (!n) return Status::OK();
  cfg->levels.clear();
  if (n.IsNull()) return Status::OK();
  if (!n.IsSequence()) return top.Fail("levels", "want a list of {interval: D}");
  for (size_t i = 0; i < n.size(); i++) {
    std::string name = "levels[" + std::to_string(i) + "]";
    if (!n[i].IsMap()) return top.Fail("levels", name + ": want a mapping with interval:");
    Section s(st, n[i], name, "");
    WALSHIP_RETURN_IF_ERROR(s.CheckKeys({kLevelKeys}, {}));
    std::optional<int64_t> ms;
    WALSHIP_RETURN_IF_ERROR(s.ReadDuration("interval", Bound::kPositive, &ms));
    if (!ms) return InvalidArgument(name + ": interval: required and must be greater than 0");
    cfg->levels.push_back(*ms);
  }
  return Status::OK();
}

Result<std::string> NormalizeLogLevel(std::string_view level) {
  std::string v = Lower(level);
  if (v == "warning") v = "warn";
  if (v == "trace" || v == "debug" || v == "info" || v == "warn" || v == "error") return v;
  return InvalidArgument("unknown log level " + Quote(level) + " (want trace, debug, info, warn or error)");
}

Status ParseLogging(ParseState* st, const Section& top, Config* cfg) {
  YAML::Node n = top.Get("logging");
  if (n && !n.IsNull()) {
    if (!n.IsMap()) return top.Fail("logging", "want a mapping with level: and type:");
    Section s(st, n, "", "logging.");
    WALSHIP_RETURN_IF_ERROR(s.CheckKeys({kLoggingKeys}, {}));
    std::string level, type;
    WALSHIP_RETURN_IF_ERROR(s.ReadString("level", &level));
    WALSHIP_RETURN_IF_ERROR(s.ReadString("type", &type));
    if (!level.empty()) {
      auto l = NormalizeLogLevel(level);
      if (!l.ok()) return s.Fail("level", l.status().message());
      cfg->log_level = *l;
    }
    if (!type.empty()) {
      if (type != "text" && type != "json" && type != "pretty") {
        return s.Fail("type", "unknown log type " + Quote(type) + " (want text, json or pretty)");
      }
      cfg->log_type = type;
    }
  }
  return Status::OK();
}

// LOG_LEVEL in the environment overrides logging.level.
Status ApplyLogLevelEnv(Config* cfg) {
  if (const char* env = std::getenv("LOG_LEVEL"); env && *env) {
    auto l = NormalizeLogLevel(env);
    if (!l.ok()) return l.status().WithContext("LOG_LEVEL environment variable");
    cfg->log_level = *l;
  }
  return Status::OK();
}

Status ParseGlobals(ParseState* st, const Section& top, Config* cfg) {
  WALSHIP_RETURN_IF_ERROR(ParseLevels(st, top, cfg));
  WALSHIP_RETURN_IF_ERROR(
      ReadSnapshotSection(st, top, "", &cfg->snapshot_interval_ms, &cfg->snapshot_retention_ms, nullptr));
  WALSHIP_RETURN_IF_ERROR(top.ReadDuration("l0-retention", Bound::kNonNegative, &cfg->l0_retention_ms));
  WALSHIP_RETURN_IF_ERROR(
      top.ReadDuration("l0-retention-check-interval", Bound::kPositive, &cfg->l0_retention_check_interval_ms));
  WALSHIP_RETURN_IF_ERROR(
      top.ReadDuration("shutdown-sync-timeout", Bound::kNonNegative, &cfg->shutdown_sync_timeout_ms));
  WALSHIP_RETURN_IF_ERROR(
      top.ReadDuration("shutdown-sync-interval", Bound::kPositive, &cfg->shutdown_sync_interval_ms));
  WALSHIP_RETURN_IF_ERROR(top.ReadString("exec", &cfg->exec));
  YAML::Node ret = top.Get("retention");
  if (ret && !ret.IsNull()) {
    if (!ret.IsMap()) return top.Fail("retention", "want a mapping with enabled:");
    Section s(st, ret, "", "retention.");
    WALSHIP_RETURN_IF_ERROR(s.CheckKeys({kRetentionKeys}, {}));
    WALSHIP_RETURN_IF_ERROR(s.ReadBool("enabled", &cfg->retention_enabled));
  }
  return ParseLogging(st, top, cfg);
}

Status ParseDbs(ParseState* st, const Section& top, const RawReplica& global, Config* cfg) {
  const YAML::Node dbs = top.Get("dbs");
  if (!dbs || dbs.IsNull()) return Status::OK();
  if (!dbs.IsSequence()) return top.Fail("dbs", "want a list of databases (- path: ...)");
  DbSnapshot acc;
  for (size_t i = 0; i < dbs.size(); i++) {
    DbSnapshot snap;
    WALSHIP_ASSIGN_OR_RETURN(DbConfig db, ParseDb(st, dbs[i], i, global, &snap));
    WALSHIP_RETURN_IF_ERROR(MergeDbSnapshot(&acc.interval, snap.interval, "intervals"));
    WALSHIP_RETURN_IF_ERROR(MergeDbSnapshot(&acc.retention, snap.retention, "retentions"));
    for (size_t j = 0; j < cfg->dbs.size(); j++) {
      std::string here = "dbs[" + std::to_string(i) + "] (" + db.path + "): ";
      if (cfg->dbs[j].path == db.path) {
        return InvalidArgument(here + "path: same database as dbs[" + std::to_string(j) + "]");
      }
      if (cfg->dbs[j].meta_path == db.meta_path) {
        return InvalidArgument(here + "meta-path: " + db.meta_path + " is also used by dbs[" + std::to_string(j) +
                               "]; each database needs its own");
      }
    }
    cfg->dbs.push_back(std::move(db));
  }
  // Per-DB snapshot settings only apply when the top level does not set them.
  const YAML::Node top_snap = top.Get("snapshot");
  bool top_interval = top_snap.IsMap() && top_snap["interval"] && !top_snap["interval"].IsNull();
  bool top_retention = top_snap.IsMap() && top_snap["retention"] && !top_snap["retention"].IsNull();
  if (!top_interval && acc.interval.ms) cfg->snapshot_interval_ms = *acc.interval.ms;
  if (!top_retention && acc.retention.ms) cfg->snapshot_retention_ms = *acc.retention.ms;
  return Status::OK();
}

Result<Config> ParseDocument(ParseState* st, const YAML::Node& root) {
  Config cfg;
  if (!root || root.IsNull()) {
    WALSHIP_RETURN_IF_ERROR(ApplyLogLevelEnv(&cfg));
    return cfg;
  }
  if (!root.IsMap()) {
    return InvalidArgument("the top level must be a mapping (dbs: ...), got " + std::string(KindName(root)));
  }
  Section top(st, root, "", "");
  WALSHIP_RETURN_IF_ERROR(top.CheckKeys({kTopKeys, kReplicaSettingKeys},
                                        {{kDbKeys, "is a per-database key; put it in an entry under dbs:"},
                                         {kReplicaOnlyKeys, "is a replica key; put it under a database's replica:"}}));
  RawReplica global;
  WALSHIP_RETURN_IF_ERROR(ReadReplicaSettings(top, &global));
  WALSHIP_RETURN_IF_ERROR(ParseGlobals(st, top, &cfg));
  WALSHIP_RETURN_IF_ERROR(ParseDbs(st, top, global, &cfg));
  WALSHIP_RETURN_IF_ERROR(ApplyLogLevelEnv(&cfg));
  return cfg;
}

}  // namespace

Result<Config> ParseConfig(std::string_view yaml_text, bool expand_env, std::string_view source_name) {
  ParseState st;
  st.source = source_name.empty() ? "config" : "config " + std::string(source_name);
  std::string text =
      expand_env ? config_internal::ExpandEnv(yaml_text, config_internal::LookupEnvOrPid) : std::string(yaml_text);
  std::vector<std::string> secrets;
  CollectSecretsFromText(text, &secrets);
  Result<Config> result = InvalidArgument("unparsed");
  try {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return InvalidArgument(st.source + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                             std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
    }
    CollectSecrets(root, &secrets);
    result = ParseDocument(&st, root);
  } catch (const YAML::Exception& e) {
    result = Internal("unexpected YAML error: " + e.msg);
  }
  if (!result.ok()) {
    return Status(result.status().code(), Redact(st.source + ": " + result.status().message(), secrets));
  }
  for (std::string& w : st.warnings) w = Redact(std::move(w), secrets);
  result->warnings = std::move(st.warnings);
  return result;
}

Result<Config> LoadConfigFile(const std::string& path, bool expand_env) {
  WALSHIP_ASSIGN_OR_RETURN(std::string abs, ExpandPath(path));
  auto text = ReadFileToString(abs);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return NotFound("config file not found: " + abs);
    return text.status().WithContext("config");
  }
  return ParseConfig(*text, expand_env, abs);
}

Result<ReplicaConfig> ReplicaConfigFromUrl(std::string_view url) {
  auto fail = [](std::string_view, std::string_view msg) {
    return InvalidArgument("replica url: " + std::string(msg));
  };
  if (url.empty()) return InvalidArgument("replica url: empty");
  return ResolveReplica(RawReplica{}, "", std::string(url), "", fail, nullptr);
}

}  // namespace walship::daemon
