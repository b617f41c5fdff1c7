#include "cli/args.h"

#include <gtest/gtest.h>

namespace walship::cli {
namespace {

TEST(NormalizeArgs, RewritesSingleDashLongFlagsOnly) {
  std::vector<std::string> in = {"-config", "/x.yml", "-o", "out.db", "--force", "-txid=0a", "-5", "-h", "--", "-keep"};
  std::vector<std::string> want = {"--config", "/x.yml", "-o", "out.db", "--force", "--txid=0a", "-5", "-h", "--", "-keep"};
  EXPECT_EQ(NormalizeArgs(in), want);
}

}  // namespace
}  // namespace walship::cli
