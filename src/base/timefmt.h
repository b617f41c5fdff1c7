#pragma once
// Text forms of times, durations and sizes, as Litestream spells them.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace walship {

// "2026-01-02T03:04:05.123Z" (UTC, millisecond precision).
std::string FormatRfc3339Ms(int64_t unix_ms);
// RFC 3339 with optional fraction and "Z" or "+hh:mm" offset -> ms since the epoch.
// Also accepts a space instead of "T". Sub-millisecond digits are truncated.
Result<int64_t> ParseRfc3339(std::string_view s);

// Go duration syntax: "1s", "500ms", "1m30s", "24h", "1.5h", "0". -> milliseconds.
Result<int64_t> ParseDurationMs(std::string_view s);
std::string FormatDurationMs(int64_t ms);

// Byte sizes: "5242880", "5MB", "5MiB", "64KiB", "1GB".
Result<uint64_t> ParseByteSize(std::string_view s);
// "1.5 MiB".
std::string FormatBytes(uint64_t n);

}  // namespace walship
