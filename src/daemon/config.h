#pragma once
// The configuration layer: Litestream v0.5's YAML config file, parsed and
// validated into typed structs (see docs/ and litestream-compat.md section 7).
//
// Compatibility contract:
//  - Same keys, defaults and meaning as Litestream v0.5 (`gopkg.in/yaml.v2`
//    decoding, Go duration syntax, env expansion with os.Expand semantics).
//  - Stricter than Litestream where it catches mistakes: a key nobody knows is
//    an error (with a "did you mean" hint); a key Litestream knows but walship
//    does not implement yet adds a warning to Config::warnings and is ignored;
//    directory mode (dir/pattern), age encryption and S3 SSE are errors.
//  - Every error is kInvalidArgument (kNotFound for a missing config file) and
//    reads like a path: `config FILE: dbs[1] (PATH): replica.sync-interval
//    (line 9): invalid duration "5": ...`. Secret values (keys, passwords,
//    tokens, URL passwords) never appear in errors or warnings.
//
// Everything here is a pure function of its inputs plus the environment
// (env expansion, LOG_LEVEL, $HOME, current directory); thread-compatible.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace walship::daemon {

// One replica of one database. Global replica keys of the config file have
// already been merged in (a key set on the replica wins).
struct ReplicaConfig {
  // "file" or "s3". Taken from the URL scheme when `url` is set, else from
  // `type:`, else "file".
  std::string type = "file";
  // As written (after env expansion). For file replicas `path` is derived
  // from it; s3 URLs are interpreted by the S3 backend.
  std::string url;
  // file: absolute local directory (from `path:` or a file:// URL, `~`
  // expanded). s3: the `path:` key prefix as written ("" when only `url` is set).
  std::string path;
  int64_t sync_interval_ms = 1000;   // > 0
  int64_t max_sync_ltx_files = 256;  // >= 0; 0 = all pending files per pass
  bool auto_recover = false;

  // S3 keys exactly as configured; empty / nullopt = unset, so the backend can
  // apply Litestream's URL and provider-specific defaults.
  std::string bucket;
  std::string endpoint;
  std::string region;
  std::string access_key_id;
  std::string secret_access_key;  // secret: never log
  std::optional<bool> force_path_style;
  std::optional<bool> sign_payload;         // Litestream default true
  std::optional<bool> require_content_md5;  // Litestream default true
  bool skip_verify = false;
  std::optional<uint64_t> part_size;  // bytes, > 0
  std::optional<int> concurrency;     // > 0
  std::string storage_class;
};

struct DbConfig {
  // Absolute path of the database: `~` expanded, sqlite:// and sqlite3://
  // prefixes stripped, lexically normalised.
  std::string path;
  // Local metadata directory; default `<dir>/.<basename>-litestream`.
  std::string meta_path;
  int64_t monitor_interval_ms = 1000;        // > 0
  int64_t checkpoint_interval_ms = 60'000;   // >= 0; 0 = no time-based checkpoints
  int64_t busy_timeout_ms = 1000;            // >= 0
  int64_t min_checkpoint_page_count = 1000;  // >= 0
  // walship only: let the app restart the WAL once it holds this many frames
  // (DbSyncer hand-off); 0 = only walship's own checkpoints restart it.
  int64_t handoff_frames = 800;
  // Emergency TRUNCATE threshold in pages. A configured 0 becomes the
  // default; a negative value disables emergency checkpoints.
  int64_t truncate_page_n = 121359;
  int64_t max_sync_wal_bytes = 67'108'864;  // >= 0; 0 = no limit per sync
  bool restore_if_db_not_exists = false;
  ReplicaConfig replica;
};

struct Config {
  std::vector<DbConfig> dbs;  // may be empty; paths are unique
  // Compaction intervals in ms of levels 1..K (level 0 and the snapshot level
  // are implicit). Each > 0. An explicit empty list means no compaction levels.
  std::vector<int64_t> levels = {30'000, 300'000, 3'600'000};
  int64_t snapshot_interval_ms = 86'400'000;        // > 0
  int64_t snapshot_retention_ms = 86'400'000;       // > 0
  int64_t l0_retention_ms = 300'000;                // >= 0; 0 disables L0 retention
  int64_t l0_retention_check_interval_ms = 15'000;  // > 0
  bool retention_enabled = true;                    // false: no remote deletes
  int64_t shutdown_sync_timeout_ms = 30'000;        // >= 0; 0 = a single try
  int64_t shutdown_sync_interval_ms = 500;          // > 0
  // "trace", "debug", "info", "warn" or "error" (LOG_LEVEL env overrides the
  // file; the CLI's -log-level overrides both).
  std::string log_level = "info";
  std::string log_type = "text";  // "text", "json" or "pretty"
  // The command `replicate` runs as its child (`exec:`; -exec overrides), as
  // written: split into words by daemon::SplitShellWords. "" = none.
  std::string exec;

  // Keys that were recognised but are not implemented by walship yet, one
  // human-readable line each (no secret values). The caller logs them.
  std::vector<std::string> warnings;
};

// Parses a config document. `source_name` (usually the file path) prefixes
// every error and warning. With `expand_env`, $NAME and ${NAME} in the whole
// text are replaced first (Go os.Expand: unset -> "", $PID -> our pid).
Result<Config> ParseConfig(std::string_view yaml_text, bool expand_env, std::string_view source_name);

// Reads and parses a config file (`~` in `path` is expanded). A missing file
// is kNotFound ("config file not found: PATH").
Result<Config> LoadConfigFile(const std::string& path, bool expand_env);

// Litestream's path expansion for DB and replica paths: strips a sqlite:// or
// sqlite3:// prefix, expands "~" and "~/..." ($HOME, else the passwd entry),
// and makes the result absolute and lexically normal (no trailing slash).
Result<std::string> ExpandPath(std::string_view path);

// `<dir>/.<basename>-litestream` for an absolute database path.
std::string DefaultMetaPath(std::string_view db_path);

// A replica from a bare URL with default settings, as `replicate DB_PATH URL`
// builds it. Same type rules and errors as the config file's `url:`.
Result<ReplicaConfig> ReplicaConfigFromUrl(std::string_view url);

}  // namespace walship::daemon
