#include "storage/s3/credentials.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <tuple>

namespace walship::storage::s3 {
namespace {

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) b++;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) e--;
  return s.substr(b, e - b);
}

std::string Env(const GetEnv& getenv, const char* name) {
  const char* v = getenv ? getenv(name) : std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

}  // namespace

Result<Credentials> ParseCredentialsFile(const std::string& text, const std::string& profile) {
  std::istringstream in(text);
  std::string line, section;
  bool found = false;
  Credentials c;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = Trim(line.substr(1, line.size() - 2));
      if (section.rfind("profile ", 0) == 0) section = Trim(section.substr(8));
      found = found || section == profile;
      continue;
    }
    if (section != profile) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = Trim(line.substr(0, eq)), v = Trim(line.substr(eq + 1));
    if (k == "aws_access_key_id") c.access_key_id = v;
    if (k == "aws_secret_access_key") c.secret_access_key = v;
    if (k == "aws_session_token") c.session_token = v;
  }
  if (!found) return NotFound("no profile [" + profile + "]");
  if (c.access_key_id.empty() || c.secret_access_key.empty()) {
    return NotFound("profile [" + profile + "] lacks aws_access_key_id or aws_secret_access_key");
  }
  return c;
}

Status ResolveCredentials(Credentials* creds, const GetEnv& getenv) {
  if (!creds->access_key_id.empty() || !creds->secret_access_key.empty()) {
    if (creds->access_key_id.empty() || creds->secret_access_key.empty()) {
      return InvalidArgument("s3: access key id and secret access key must be given together");
    }
    return Status::OK();
  }
  for (const auto& [id, secret, token] :
       {std::tuple{"LITESTREAM_ACCESS_KEY_ID", "LITESTREAM_SECRET_ACCESS_KEY", ""},
        std::tuple{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}}) {
    const std::string i = Env(getenv, id), s = Env(getenv, secret);
    if (i.empty() && s.empty()) continue;
    if (i.empty() || s.empty())
      return InvalidArgument(std::string("s3: ") + id + " and " + secret + " must be set together");
    creds->access_key_id = i;
    creds->secret_access_key = s;
    creds->session_token = *token != '\0' ? Env(getenv, token) : "";
    return Status::OK();
  }
  std::string path = Env(getenv, "AWS_SHARED_CREDENTIALS_FILE");
  if (path.empty()) {
    const std::string home = Env(getenv, "HOME");
    if (!home.empty()) path = home + "/.aws/credentials";
  }
  std::string profile = Env(getenv, "AWS_PROFILE");
  if (profile.empty()) profile = "default";
  if (!path.empty()) {
    std::ifstream f(path);
    if (f) {
      std::stringstream ss;
      ss << f.rdbuf();
      auto c = ParseCredentialsFile(ss.str(), profile);
      if (c.ok()) {
        *creds = *c;
        return Status::OK();
      }
      return InvalidArgument("s3: credentials file " + path + ": " + c.status().message());
    }
  }
  return InvalidArgument(
      "s3: no credentials: set access-key-id/secret-access-key, LITESTREAM_ACCESS_KEY_ID/"
      "LITESTREAM_SECRET_ACCESS_KEY, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a shared credentials file");
}

}  // namespace walship::storage::s3
