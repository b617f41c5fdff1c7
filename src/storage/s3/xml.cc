#include "storage/s3/xml.h"

#include <expat.h>

namespace walship::storage::s3 {
namespace {

constexpr size_t kMaxDepth = 64;

struct ParseState {
  std::unique_ptr<XmlNode> root;
  std::vector<XmlNode*> stack;
  bool too_deep = false;
};

std::string LocalName(const char* name) {
  std::string_view n(name);
  // expat with a namespace separator reports "uri|local".
  const size_t bar = n.rfind('|');
  return std::string(bar == std::string_view::npos ? n : n.substr(bar + 1));
}

void XMLCALL OnStart(void* data, const XML_Char* name, const XML_Char** /*attrs*/) {
  auto* st = static_cast<ParseState*>(data);
  if (st->stack.size() >= kMaxDepth) {
    st->too_deep = true;
    return;
  }
  auto node = std::make_unique<XmlNode>();
  node->name = LocalName(name);
  XmlNode* raw = node.get();
  if (st->stack.empty()) {
    st->root = std::move(node);
  } else {
    st->stack.back()->children.push_back(std::move(node));
  }
  st->stack.push_back(raw);
}

void XMLCALL OnEnd(void* data, const XML_Char* /*name*/) {
  auto* st = static_cast<ParseState*>(data);
  if (!st->too_deep && !st->stack.empty()) st->stack.pop_back();
}

void XMLCALL OnText(void* data, const XML_Char* s, int len) {
  auto* st = static_cast<ParseState*>(data);
  if (!st->too_deep && !st->stack.empty()) st->stack.back()->text.append(s, size_t(len));
}

}  // namespace

const XmlNode* XmlNode::Child(std::string_view child_name) const {
  for (const auto& c : children) {
    if (c->name == child_name) return c.get();
  }
  return nullptr;
}

std::string XmlNode::ChildText(std::string_view child_name) const {
  const XmlNode* c = Child(child_name);
  return c != nullptr ? c->text : std::string();
}

std::vector<const XmlNode*> XmlNode::Children(std::string_view child_name) const {
  std::vector<const XmlNode*> out;
  for (const auto& c : children) {
    if (c->name == child_name) out.push_back(c.get());
  }
  return out;
}

Result<std::unique_ptr<XmlNode>> ParseXml(std::string_view xml) {
  XML_Parser p = XML_ParserCreateNS(nullptr, '|');
  if (p == nullptr) return Internal("xml: out of memory");
  ParseState st;
  XML_SetUserData(p, &st);
  XML_SetElementHandler(p, OnStart, OnEnd);
  XML_SetCharacterDataHandler(p, OnText);
  const XML_Status rc = XML_Parse(p, xml.data(), int(xml.size()), 1);
  std::string err;
  if (rc != XML_STATUS_OK) {
    err = "malformed XML at line " + std::to_string(XML_GetCurrentLineNumber(p)) + ": " +
          XML_ErrorString(XML_GetErrorCode(p));
  }
  XML_ParserFree(p);
  if (!err.empty()) return Corruption(err);
  if (st.too_deep) return Corruption("malformed XML: nested too deeply");
  if (st.root == nullptr) return Corruption("malformed XML: no root element");
  return std::move(st.root);
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        out += "&#13;";
        break;
      case '\n':
        out += "&#10;";
        break;
      case '\t':
        out += "&#9;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace walship::storage::s3
