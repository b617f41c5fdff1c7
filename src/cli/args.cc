#include "cli/args.h"

#include <cctype>

namespace walship::cli {

std::vector<std::string> NormalizeArgs(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  bool after_dashdash = false;
  for (const auto& a : args) {
    if (after_dashdash) {
      out.push_back(a);
      continue;
    }
    if (a == "--") {
      after_dashdash = true;
      out.push_back(a);
      continue;
    }
    if (a.size() >= 3 && a[0] == '-' && a[1] != '-' && std::isalpha(static_cast<unsigned char>(a[1])) &&
        std::isalpha(static_cast<unsigned char>(a[2]))) {
      out.push_back("-" + a);
      continue;
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace walship::cli
