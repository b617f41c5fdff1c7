#pragma once
// A small XML tree for S3 responses, parsed with expat. S3 bodies are small
// (a list page, an error); the caller bounds their size. Namespaces are
// dropped from element names ("ListBucketResult", not "http://...:ListBucketResult").
// Thread-safe: no shared state.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace walship::storage::s3 {

struct XmlNode {
  std::string name;
  std::string text;  // concatenated character data directly inside this element
  std::vector<std::unique_ptr<XmlNode>> children;

  // The first child with this name, or nullptr.
  const XmlNode* Child(std::string_view child_name) const;
  // The text of the first child with this name, or "".
  std::string ChildText(std::string_view child_name) const;
  std::vector<const XmlNode*> Children(std::string_view child_name) const;
};

// kCorruption for malformed XML (the message names line and expat's reason).
Result<std::unique_ptr<XmlNode>> ParseXml(std::string_view xml);

// Escapes &, <, >, ", ' for element text and attribute values.
std::string XmlEscape(std::string_view s);

}  // namespace walship::storage::s3
