#pragma once
// One function per command; each parses its own flags and returns an exit code.
#include <string>
#include <vector>

namespace walship::cli {

int CmdReplicate(std::vector<std::string> args);
int CmdRestore(std::vector<std::string> args);
int CmdLtx(std::vector<std::string> args);
int CmdVersion(std::vector<std::string> args);
int CmdVerify(std::vector<std::string> args);
int CmdDatabases(std::vector<std::string> args);
int CmdStatus(std::vector<std::string> args);
int CmdReset(std::vector<std::string> args);

// Prints "walship: <message>" to stderr and returns the exit code for s.
}  // namespace walship::cli
#include "base/status.h"
namespace walship::cli {
int Fail(const Status& s);

}  // namespace walship::cli
