#pragma once
// Text helpers of the configuration layer (config.cc): Go's os.Expand, the
// bits of replica URLs the config layer needs, secret redaction and key
// suggestions. Internal to src/daemon; pure functions, thread-safe.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace walship::daemon::config_internal {

// Go's os.Expand: $NAME and ${NAME} are replaced by lookup(NAME); "$$", "$1"
// etc. are looked up as one-character names; "${}" and an unclosed "${" are
// dropped; a '$' not followed by a name stays.
std::string ExpandEnv(std::string_view text, const std::function<std::string(std::string_view)>& lookup);

// Litestream's lookup: PID -> this process id, else getenv ("" if unset).
std::string LookupEnvOrPid(std::string_view name);

// Litestream's IsURL: `^\w+://`.
bool IsUrl(std::string_view s);
// "scheme://user:pass@host/x" -> "scheme://user:xxxxx@host/x"; else unchanged.
std::string RedactUrl(std::string_view url);
// The password in a URL's userinfo, or "".
std::string UrlPassword(std::string_view url);
// "file:///abs" -> "/abs"; "file://a/b" -> "/a/b" (Go parses "a" as the host
// and Litestream keeps it as the first path component); query and fragment
// dropped; no percent-decoding (as in Litestream). "" when there is no path.
std::string FilePathFromUrl(std::string_view url);

// Replaces every occurrence of each secret (4+ characters) with "<redacted>".
std::string Redact(std::string msg, std::vector<std::string> secrets);

size_t EditDistance(std::string_view a, std::string_view b);
std::string Lower(std::string_view s);
std::string Quote(std::string_view s);  // adds double quotes
// $HOME if set and non-empty, else the passwd entry's directory, else "".
std::string HomeDir();

}  // namespace walship::daemon::config_internal
