#pragma once
// Section: one YAML mapping of the config file, read with key checking, typed
// values and messages that say where a value is. Internal to config.cc.
//
// Every key is first checked against tables of KeySpecs (CheckKeys): unknown
// keys are errors with a "did you mean" hint, duplicates are errors, kIgnored
// keys add a warning to the ParseState, kRejected keys are errors. The Read*
// methods then parse values; an absent or null value leaves *out unchanged.
// Errors read "<where>: <prefix><key> (line N): <what is wrong>".
// Nothing here throws (yaml-cpp is only used through non-throwing calls).

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/timefmt.h"

namespace walship::daemon::config_internal {

enum class KeyKind {
  kSupported,
  kIgnored,   // Litestream knows it, walship does not implement it: warning
  kRejected,  // ignoring it would be unsafe or misleading: error
};

struct KeySpec {
  std::string_view name;
  KeyKind kind = KeyKind::kSupported;
  std::string_view note = {};  // the warning or error text
};

using KeyTable = std::span<const KeySpec>;

// A table of keys that belong in another mapping, and the hint to give.
struct Misplaced {
  KeyTable table;
  std::string_view hint;  // "is a replica key; put it under replica:"
};

const KeySpec* FindKey(KeyTable table, std::string_view key);

// State shared by all Sections of one document.
struct ParseState {
  std::string source;  // "config /etc/walship.yml"
  std::vector<std::string> warnings;
};

enum class Bound { kAny, kNonNegative, kPositive };

// "a mapping", "a list", "nothing", "a scalar".
std::string_view KindName(const YAML::Node& n);

class Section {
 public:
  // `where` names the enclosing object ("dbs[0] (/x)"), `prefix` the path of
  // this mapping inside it ("replica."); both may be empty. `map` must be a
  // mapping. `st` must outlive the Section.
  Section(ParseState* st, const YAML::Node& map, std::string where, std::string prefix);

  Status CheckKeys(std::initializer_list<KeyTable> own, std::initializer_list<Misplaced> misplaced);

  bool Has(std::string_view key) const;        // present with a non-null value
  YAML::Node Get(std::string_view key) const;  // undefined node if absent
  // "<where>: <prefix><key> (line N): msg"; the line is omitted when the key
  // is not in this mapping (e.g. a value inherited from the top level).
  Status Fail(std::string_view key, std::string_view msg) const;

  Status ReadString(std::string_view key, std::string* out) const;
  Status ReadByteSize(std::string_view key, std::optional<uint64_t>* out) const;  // > 0
  // T is int64_t or std::optional<int64_t>. Go duration syntax, in ms.
  template <typename T>
  Status ReadDuration(std::string_view key, Bound bound, T* out) const {
    return ReadScalar(key, out, [&](const std::string& s) -> Result<int64_t> {
      WALSHIP_ASSIGN_OR_RETURN(int64_t v, ParseDurationMs(s));
      WALSHIP_RETURN_IF_ERROR(CheckBound(v, bound, s));
      return v;
    });
  }
  // Decimal with optional sign and '_' separators.
  template <typename T>
  Status ReadInt(std::string_view key, Bound bound, T* out) const {
    return ReadScalar(key, out, [&](const std::string& s) -> Result<int64_t> {
      WALSHIP_ASSIGN_OR_RETURN(int64_t v, ParseInt(s));
      WALSHIP_RETURN_IF_ERROR(CheckBound(v, bound, s));
      return v;
    });
  }
  // YAML 1.1 booleans: true/false, yes/no, on/off, y/n, any case.
  template <typename T>
  Status ReadBool(std::string_view key, T* out) const {
    return ReadScalar(key, out, ParseBool);
  }

 private:
  struct Entry {
    std::string key;  // "" if the key is not a scalar
    int line;         // 1-based
    YAML::Node value;
  };

  template <typename T, typename Parse>
  Status ReadScalar(std::string_view key, T* out, Parse parse) const {
    YAML::Node n = Get(key);
    if (!n || n.IsNull()) return Status::OK();
    if (!n.IsScalar()) return Fail(key, "want a single value, got " + std::string(KindName(n)));
    auto r = parse(n.Scalar());
    if (!r.ok()) return Fail(key, r.status().message());
    *out = *r;
    return Status::OK();
  }

  static Result<int64_t> ParseInt(const std::string& s);
  static Result<bool> ParseBool(const std::string& s);
  static Status CheckBound(int64_t v, Bound bound, const std::string& text);

  const Entry* Find(std::string_view key) const;
  std::string Where() const;  // "<where>: " or ""
  Status UnknownKey(const Entry& e, const std::string& at, std::initializer_list<KeyTable> own,
                    std::initializer_list<Misplaced> misplaced) const;

  ParseState* st_;
  std::string where_;
  std::string prefix_;
  std::vector<Entry> entries_;
};

}  // namespace walship::daemon::config_internal
