#pragma once
// Litestream spells long flags with one dash (-config, -txid); CLI11 wants
// two. NormalizeArgs rewrites "-name[=v]" (two or more letters) to
// "--name[=v]", leaving "-o", "--name", negative numbers and values alone.

#include <string>
#include <vector>

namespace walship::cli {

std::vector<std::string> NormalizeArgs(const std::vector<std::string>& args);

}  // namespace walship::cli
