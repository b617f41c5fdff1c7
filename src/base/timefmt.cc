#include "base/timefmt.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace walship {
namespace {

// Days from civil date (Howard Hinnant's algorithm), proleptic Gregorian.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}

bool ParseDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::string FormatRfc3339Ms(int64_t unix_ms) {
  int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  int ms = int(unix_ms - secs * 1000);
  time_t t = time_t(secs);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

Result<int64_t> ParseRfc3339(std::string_view s) {
  auto bad = [&]() {
    return InvalidArgument("invalid timestamp \"" + std::string(s) +
                           "\": want RFC 3339, e.g. 2026-01-02T15:04:05Z or 2026-01-02T15:04:05.123+01:00");
  };
  int Y, M, D, h, m, sec;
  if (!ParseDigits(s, 0, 4, &Y) || s.size() < 19 || s[4] != '-' || !ParseDigits(s, 5, 2, &M) || s[7] != '-' ||
      !ParseDigits(s, 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !ParseDigits(s, 11, 2, &h) ||
      s[13] != ':' || !ParseDigits(s, 14, 2, &m) || s[16] != ':' || !ParseDigits(s, 17, 2, &sec)) {
    return bad();
  }
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return bad();
  size_t pos = 19;
  int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    pos++;
    size_t start = pos;
    int digits = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
      digits++;
      pos++;
    }
    if (pos == start) return bad();
    for (; digits < 3; digits++) frac_ms *= 10;
  }
  if (pos >= s.size()) return bad();
  int64_t offset_min = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    pos++;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!ParseDigits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ParseDigits(s, pos + 4, 2, &om)) {
      return bad();
    }
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  int64_t days = DaysFromCivil(Y, unsigned(M), unsigned(D));
  int64_t secs = days * 86400 + h * 3600 + m * 60 + sec - offset_min * 60;
  return secs * 1000 + frac_ms;
}

Result<int64_t> ParseDurationMs(std::string_view s) {
  std::string orig(s);
  auto bad = [&]() {
    return InvalidArgument("invalid duration \"" + orig + "\": want e.g. 500ms, 1s, 5m, 1h30m");
  };
  if (s.empty()) return bad();
  bool neg = false;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return int64_t{0};
  if (s.empty()) return bad();
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) i++;
    if (i == 0) return bad();
    std::string num(s.substr(0, i));
    char* end = nullptr;
    double v = std::strtod(num.c_str(), &end);
    if (end != num.c_str() + num.size() || !std::isfinite(v)) return bad();
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && std::isalpha(static_cast<unsigned char>(s[j]))) j++;
    std::string_view unit = s.substr(0, j);
    s.remove_prefix(j);
    double mult;
    if (unit == "ns") mult = 1e-6;
    else if (unit == "us" || unit == "µs") mult = 1e-3;
    else if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60'000;
    else if (unit == "h") mult = 3'600'000;
    else return bad();
    total += v * mult;
  }
  if (!std::isfinite(total) || total > 9.2e15) return bad();  // beyond ~290 000 years
  int64_t ms = int64_t(std::llround(total));
  return neg ? -ms : ms;
}

std::string FormatDurationMs(int64_t ms) {
  char buf[64];
  if (ms % 3'600'000 == 0 && ms != 0) std::snprintf(buf, sizeof buf, "%lldh", (long long)(ms / 3'600'000));
  else if (ms % 60'000 == 0 && ms != 0) std::snprintf(buf, sizeof buf, "%lldm", (long long)(ms / 60'000));
  else if (ms % 1000 == 0) std::snprintf(buf, sizeof buf, "%llds", (long long)(ms / 1000));
  else std::snprintf(buf, sizeof buf, "%lldms", (long long)ms);
  return buf;
}

Result<uint64_t> ParseByteSize(std::string_view s) {
  std::string orig(s);
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) i++;
  if (i == 0) return InvalidArgument("invalid size \"" + orig + "\": want e.g. 5242880, 5MB or 5MiB");
  std::string num(s.substr(0, i));
  char* end = nullptr;
  double v = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || !std::isfinite(v)) {
    return InvalidArgument("invalid size \"" + orig + "\": want e.g. 5242880, 5MB or 5MiB");
  }
  std::string unit;
  for (char c : s.substr(i)) {
    if (c != ' ') unit += char(std::tolower(static_cast<unsigned char>(c)));
  }
  double mult;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "kb" || unit == "k") mult = 1e3;
  else if (unit == "mb" || unit == "m") mult = 1e6;
  else if (unit == "gb" || unit == "g") mult = 1e9;
  else if (unit == "kib") mult = 1024.0;
  else if (unit == "mib") mult = 1024.0 * 1024;
  else if (unit == "gib") mult = 1024.0 * 1024 * 1024;
  else return InvalidArgument("invalid size \"" + orig + "\": unknown unit \"" + unit + "\"");
  if (v * mult >= 1.8e19) return InvalidArgument("invalid size \"" + orig + "\": too large");
  return uint64_t(v * mult);
}

std::string FormatBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", (unsigned long long)n);
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace walship
