#include "daemon/config_section.h"

#include <cctype>
#include <utility>

#include "daemon/config_util.h"

namespace walship::daemon::config_internal {

namespace {

bool LooksLikeKey(std::string_view key) {
  if (key.size() > 40) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != '<') return false;
  }
  return true;
}

}  // namespace

const KeySpec* FindKey(KeyTable table, std::string_view key) {
  for (const KeySpec& k : table) {
    if (k.name == key) return &k;
  }
  return nullptr;
}

std::string_view KindName(const YAML::Node& n) {
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "nothing";
  return "a scalar";
}

Section::Section(ParseState* st, const YAML::Node& map, std::string where, std::string prefix)
    : st_(st), where_(std::move(where)), prefix_(std::move(prefix)) {
  for (const auto& kv : map) {
    entries_.push_back({kv.first.IsScalar() ? kv.first.Scalar() : std::string(), kv.first.Mark().line + 1, kv.second});
  }
}

Status Section::CheckKeys(std::initializer_list<KeyTable> own, std::initializer_list<Misplaced> misplaced) {
  for (size_t i = 0; i < entries_.size(); i++) {
    const Entry& e = entries_[i];
    std::string at = Where() + "line " + std::to_string(e.line) + ": ";
    if (e.key.empty()) return InvalidArgument(at + "keys must be plain strings");
    if (!LooksLikeKey(e.key)) {
      // Not echoed: a key like this comes from broken structure and may hold
      // a value, e.g. "secret-access-key:VALUE" without the space.
      return InvalidArgument(at +
                             "unknown key (not shown: it does not look like a key name; check the indentation "
                             "and the space after each ':')");
    }
    for (size_t j = 0; j < i; j++) {
      if (entries_[j].key == e.key) {
        return InvalidArgument(at + "key " + Quote(prefix_ + e.key) + " is already defined on line " +
                               std::to_string(entries_[j].line));
      }
    }
    const KeySpec* spec = nullptr;
    for (KeyTable t : own) {
      if ((spec = FindKey(t, e.key))) break;
    }
    if (!spec) return UnknownKey(e, at, own, misplaced);
    if (spec->kind == KeyKind::kRejected) return Fail(e.key, spec->note);
    if (spec->kind == KeyKind::kIgnored) {
      st_->warnings.push_back(st_->source + ": " + Where() + prefix_ + e.key + " (line " + std::to_string(e.line) +
                              "): " + std::string(spec->note));
    }
  }
  return Status::OK();
}

Status Section::UnknownKey(const Entry& e, const std::string& at, std::initializer_list<KeyTable> own,
                           std::initializer_list<Misplaced> misplaced) const {
  std::string m = at + "unknown key " + Quote(prefix_ + e.key);
  if (e.key == "<<") return InvalidArgument(m + ": YAML merge keys are not supported");
  for (const Misplaced& mp : misplaced) {
    if (FindKey(mp.table, e.key)) return InvalidArgument(m + ": " + e.key + " " + std::string(mp.hint));
  }
  std::string best;
  size_t best_distance = 3;  // suggest only within edit distance 2
  std::string lower = Lower(e.key);
  for (KeyTable t : own) {
    for (const KeySpec& k : t) {
      size_t d = EditDistance(lower, k.name);
      if (d < best_distance) {
        best_distance = d;
        best = std::string(k.name);
      }
    }
  }
  if (!best.empty()) m += "; did you mean " + Quote(best) + "?";
  return InvalidArgument(m);
}

bool Section::Has(std::string_view key) const {
  const Entry* e = Find(key);
  return e && !e->value.IsNull();
}

YAML::Node Section::Get(std::string_view key) const {
  const Entry* e = Find(key);
  return e ? e->value : YAML::Node(YAML::NodeType::Undefined);
}

Status Section::Fail(std::string_view key, std::string_view msg) const {
  std::string m = Where() + prefix_ + std::string(key);
  if (const Entry* e = Find(key)) m += " (line " + std::to_string(e->line) + ")";
  return InvalidArgument(m + ": " + std::string(msg));
}

Status Section::ReadString(std::string_view key, std::string* out) const {
  YAML::Node n = Get(key);
  if (!n || n.IsNull()) return Status::OK();
  if (!n.IsScalar()) return Fail(key, "want a string, got " + std::string(KindName(n)));
  *out = n.Scalar();
  return Status::OK();
}

Status Section::ReadByteSize(std::string_view key, std::optional<uint64_t>* out) const {
  return ReadScalar(key, out, [](const std::string& s) -> Result<uint64_t> {
    std::string_view t = s;
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    // ParseByteSize calls std::stod (throws without a leading digit or when
    // out of range) and converts to uint64_t (overflow is undefined): keep
    // the number to 10 characters, so even 9999999999GiB fits.
    size_t num = 0;
    while (num < t.size() && (std::isdigit(static_cast<unsigned char>(t[num])) || t[num] == '.')) num++;
    if (t.empty() || !std::isdigit(static_cast<unsigned char>(t[0])) || num > 10) {
      return InvalidArgument("invalid size " + Quote(s) + ": want e.g. 5242880, 5MB or 5MiB");
    }
    WALSHIP_ASSIGN_OR_RETURN(uint64_t v, ParseByteSize(t));
    if (v == 0) return InvalidArgument("must be greater than 0, got " + Quote(s));
    return v;
  });
}

Result<int64_t> Section::ParseInt(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  bool ok = i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]));
  std::string digits;
  for (size_t j = i; ok && j < s.size(); j++) {
    if (std::isdigit(static_cast<unsigned char>(s[j]))) {
      digits += s[j];
    } else if (s[j] != '_') {
      ok = false;
    }
  }
  if (!ok || digits.size() > 18) return InvalidArgument("want a whole number, got " + Quote(s));
  int64_t v = std::stoll(digits);  // cannot throw: 1..18 digits
  return s[0] == '-' ? -v : v;
}

Result<bool> Section::ParseBool(const std::string& s) {
  std::string v = Lower(s);
  if (v == "true" || v == "yes" || v == "on" || v == "y") return true;
  if (v == "false" || v == "no" || v == "off" || v == "n") return false;
  return InvalidArgument("want true or false, got " + Quote(s));
}

Status Section::CheckBound(int64_t v, Bound bound, const std::string& text) {
  if (bound == Bound::kPositive && v <= 0) return InvalidArgument("must be greater than 0, got " + Quote(text));
  if (bound == Bound::kNonNegative && v < 0) return InvalidArgument("must not be negative, got " + Quote(text));
  return Status::OK();
}

const Section::Entry* Section::Find(std::string_view key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

std::string Section::Where() const { return where_.empty() ? "" : where_ + ": "; }

}  // namespace walship::daemon::config_internal
