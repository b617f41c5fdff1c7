#pragma once
// Logging: spdlog to stderr. Secrets must never be passed to these functions.
#include <spdlog/spdlog.h>

namespace walship {
// level: trace, debug, info, warn, error. Returns false for an unknown level.
bool InitLogging(const std::string& level, bool json = false);
}  // namespace walship

#define WLOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define WLOG_DEBUG(...) spdlog::debug(__VA_ARGS__)
#define WLOG_INFO(...) spdlog::info(__VA_ARGS__)
#define WLOG_WARN(...) spdlog::warn(__VA_ARGS__)
#define WLOG_ERROR(...) spdlog::error(__VA_ARGS__)
