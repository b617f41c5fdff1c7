#pragma once
// Where S3 credentials come from, first match wins:
//   1. explicit (config keys or the caller),
//   2. LITESTREAM_ACCESS_KEY_ID / LITESTREAM_SECRET_ACCESS_KEY,
//   3. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
//   4. the shared credentials file ($AWS_SHARED_CREDENTIALS_FILE or
//      ~/.aws/credentials), profile $AWS_PROFILE or "default".
// Not done: IMDS, ECS, web identity (the AWS default chain beyond the file).

#include <functional>
#include <string>

#include "base/status.h"
#include "storage/s3/sigv4.h"

namespace walship::storage::s3 {

using GetEnv = std::function<const char*(const char*)>;

// Fills creds if its key id is empty. No credentials at all is kInvalidArgument
// (the message lists where we looked, never a value). A half-set pair is also
// kInvalidArgument. getenv defaults to ::getenv.
Status ResolveCredentials(Credentials* creds, const GetEnv& getenv = nullptr);

// Parses one profile of an AWS credentials INI text. kNotFound if the
// profile or its keys are missing.
Result<Credentials> ParseCredentialsFile(const std::string& text, const std::string& profile);

}  // namespace walship::storage::s3
