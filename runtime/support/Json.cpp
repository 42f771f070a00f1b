//===- Json.cpp - JSON values, parser and writer --------------------------===//
#include "shear/Support/Json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace shear;
using namespace shear::json;

Value::Value(json::Array a) : kind_(Kind::Array), array_(std::make_unique<json::Array>(std::move(a))) {}
Value::Value(json::Object o)
    : kind_(Kind::Object), object_(std::make_unique<json::Object>(std::move(o))) {}
Value::~Value() = default;

Value::Value(const Value &o)
    : kind_(o.kind_), bool_(o.bool_), int_(o.int_), number_(o.number_), string_(o.string_) {
  if (o.array_)
    array_ = std::make_unique<json::Array>(*o.array_);
  if (o.object_)
    object_ = std::make_unique<json::Object>(*o.object_);
}

Value &Value::operator=(const Value &o) {
  if (this != &o) {
    Value copy(o);
    *this = std::move(copy);
  }
  return *this;
}

std::optional<bool> Value::asBool() const {
  if (kind_ != Kind::Bool)
    return std::nullopt;
  return bool_;
}

std::optional<int64_t> Value::asInteger() const {
  if (kind_ == Kind::Integer)
    return int_;
  if (kind_ == Kind::Number && std::nearbyint(number_) == number_ && number_ >= -9.2e18 &&
      number_ <= 9.2e18)
    return static_cast<int64_t>(number_);
  return std::nullopt;
}

std::optional<double> Value::asNumber() const {
  if (kind_ == Kind::Integer)
    return static_cast<double>(int_);
  if (kind_ == Kind::Number)
    return number_;
  return std::nullopt;
}

const std::string *Value::asString() const { return kind_ == Kind::String ? &string_ : nullptr; }
const json::Array *Value::asArray() const { return array_.get(); }
json::Array *Value::asArray() { return array_.get(); }
const json::Object *Value::asObject() const { return object_.get(); }
json::Object *Value::asObject() { return object_.get(); }

const Value *Value::get(std::string_view key) const {
  if (!object_)
    return nullptr;
  auto it = object_->find(key);
  return it == object_->end() ? nullptr : &it->second;
}
std::optional<int64_t> Value::getInteger(std::string_view key) const {
  const Value *v = get(key);
  return v ? v->asInteger() : std::nullopt;
}
std::optional<double> Value::getNumber(std::string_view key) const {
  const Value *v = get(key);
  return v ? v->asNumber() : std::nullopt;
}
std::optional<bool> Value::getBool(std::string_view key) const {
  const Value *v = get(key);
  return v ? v->asBool() : std::nullopt;
}
const std::string *Value::getString(std::string_view key) const {
  const Value *v = get(key);
  return v ? v->asString() : nullptr;
}
const json::Array *Value::getArray(std::string_view key) const {
  const Value *v = get(key);
  return v ? v->asArray() : nullptr;
}
const json::Object *Value::getObject(std::string_view key) const {
  const Value *v = get(key);
  return v ? v->asObject() : nullptr;
}

//===----------------------------------------------------------------------===//
// parsing
//===----------------------------------------------------------------------===//

namespace {
class Parser {
public:
  Parser(std::string_view text, const ParseOptions &options) : text_(text), options_(options) {}

  Result<Value> parseDocument() {
    skipSpace();
    Value v;
    if (!parseValue(v, 0))
      return error_;
    skipSpace();
    if (pos_ != text_.size()) {
      fail("unexpected text after the value");
      return error_;
    }
    return v;
  }

private:
  /// Records the error (with its position) and returns false.
  bool fail(const std::string &what) {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    error_ = invalidInput("invalid JSON at line " + std::to_string(line) + ", column " +
                          std::to_string(column) + ": " + what);
    return false;
  }

  void skipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word)
      return false;
    pos_ += word.size();
    return true;
  }

  bool parseValue(Value &out, int depth) {
    if (pos_ >= text_.size())
      return fail("unexpected end of input");
    char c = text_[pos_];
    if (c == '{' || c == '[') {
      if (depth >= options_.maxDepth)
        return fail("nested deeper than " + std::to_string(options_.maxDepth) + " levels");
      return c == '{' ? parseObject(out, depth + 1) : parseArray(out, depth + 1);
    }
    if (c == '"') {
      std::string s;
      if (!parseString(s))
        return false;
      out = Value(std::move(s));
      return true;
    }
    if (c == 't' && literal("true"))
      return out = Value(true), true;
    if (c == 'f' && literal("false"))
      return out = Value(false), true;
    if (c == 'n' && literal("null"))
      return out = Value(), true;
    if (c == '-' || (c >= '0' && c <= '9'))
      return parseNumber(out);
    return fail(std::string("unexpected character '") + c + "'");
  }

  bool parseObject(Value &out, int depth) {
    ++pos_; // {
    json::Object object;
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      out = Value(std::move(object));
      return true;
    }
    while (true) {
      skipSpace();
      if (pos_ >= text_.size() || text_[pos_] != '"')
        return fail("expected a string key");
      size_t keyPos = pos_;
      std::string key;
      if (!parseString(key))
        return false;
      skipSpace();
      if (pos_ >= text_.size() || text_[pos_] != ':')
        return fail("expected ':' after a key");
      ++pos_;
      skipSpace();
      Value v;
      if (!parseValue(v, depth))
        return false;
      if (object.count(key)) {
        if (!options_.allowDuplicateKeys) {
          pos_ = keyPos;
          if (options_.duplicateKey)
            *options_.duplicateKey = key;
          return fail("duplicate key \"" + key + "\"");
        }
        object[key] = std::move(v);
      } else {
        object.emplace(std::move(key), std::move(v));
      }
      skipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        out = Value(std::move(object));
        return true;
      }
      return fail("expected ',' or '}' in an object");
    }
  }

  bool parseArray(Value &out, int depth) {
    ++pos_; // [
    json::Array array;
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      out = Value(std::move(array));
      return true;
    }
    while (true) {
      skipSpace();
      Value v;
      if (!parseValue(v, depth))
        return false;
      array.push_back(std::move(v));
      skipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        out = Value(std::move(array));
        return true;
      }
      return fail("expected ',' or ']' in an array");
    }
  }

  static void appendUtf8(std::string &s, uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool hex4(uint32_t &out) {
    if (pos_ + 4 > text_.size())
      return fail("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9')
        out |= c - '0';
      else if (c >= 'a' && c <= 'f')
        out |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        out |= c - 'A' + 10;
      else
        return fail("invalid \\u escape");
    }
    return true;
  }

  // Checks one UTF-8 sequence starting at pos_ and copies it.
  bool copyUtf8(std::string &s) {
    unsigned char c = text_[pos_];
    int extra = c >= 0xF0 && c <= 0xF4 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 && c <= 0xDF ? 1 : -1;
    if (c >= 0xF5 || extra < 0)
      return fail("invalid UTF-8 in a string");
    if (pos_ + extra >= text_.size())
      return fail("truncated UTF-8 in a string");
    for (int i = 1; i <= extra; ++i)
      if ((static_cast<unsigned char>(text_[pos_ + i]) & 0xC0) != 0x80)
        return fail("invalid UTF-8 in a string");
    s.append(text_.substr(pos_, extra + 1));
    pos_ += extra + 1;
    return true;
  }

  bool parseString(std::string &s) {
    ++pos_; // "
    while (true) {
      if (pos_ >= text_.size())
        return fail("unterminated string");
      unsigned char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20)
        return fail("control character in a string");
      if (c >= 0x80) {
        if (!copyUtf8(s))
          return false;
        continue;
      }
      ++pos_;
      if (c != '\\') {
        s += static_cast<char>(c);
        continue;
      }
      if (pos_ >= text_.size())
        return fail("unterminated string");
      char e = text_[pos_++];
      switch (e) {
      case '"': s += '"'; break;
      case '\\': s += '\\'; break;
      case '/': s += '/'; break;
      case 'b': s += '\b'; break;
      case 'f': s += '\f'; break;
      case 'n': s += '\n'; break;
      case 'r': s += '\r'; break;
      case 't': s += '\t'; break;
      case 'u': {
        uint32_t cp;
        if (!hex4(cp))
          return false;
        if (cp >= 0xD800 && cp <= 0xDBFF) { // a surrogate pair
          uint32_t low;
          if (!literal("\\u") || !hex4(low) || low < 0xDC00 || low > 0xDFFF)
            return fail("unpaired surrogate in a \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return fail("unpaired surrogate in a \\u escape");
        }
        appendUtf8(s, cp);
        break;
      }
      default:
        return fail(std::string("invalid escape '\\") + e + "'");
      }
    }
  }

  bool parseNumber(Value &out) {
    size_t start = pos_;
    bool integral = true;
    if (text_[pos_] == '-')
      ++pos_;
    auto digits = [&] {
      size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9')
        ++pos_;
      return pos_ - from;
    };
    if (pos_ < text_.size() && text_[pos_] == '0') {
      ++pos_;
    } else if (digits() == 0) {
      return fail("invalid number");
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      integral = false;
      if (digits() == 0)
        return fail("invalid number: no digits after '.'");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      integral = false;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-'))
        ++pos_;
      if (digits() == 0)
        return fail("invalid number: no digits in the exponent");
    }
    std::string token(text_.substr(start, pos_ - start));
    if (integral) {
      errno = 0;
      char *end = nullptr;
      long long v = std::strtoll(token.c_str(), &end, 10);
      if (errno == 0 && end && *end == '\0') {
        out = Value(static_cast<int64_t>(v));
        return true;
      }
    }
    errno = 0;
    double d = std::strtod(token.c_str(), nullptr);
    if (!std::isfinite(d))
      return fail("number out of range");
    out = Value(d);
    return true;
  }

  std::string_view text_;
  const ParseOptions &options_;
  size_t pos_ = 0;
  Status error_;
};
} // namespace

Result<Value> json::parse(std::string_view text, const ParseOptions &options) {
  return Parser(text, options).parseDocument();
}

//===----------------------------------------------------------------------===//
// writing
//===----------------------------------------------------------------------===//

std::string json::formatNumber(double d) {
  if (!std::isfinite(d))
    return "null";
  char buf[40];
  if (d == 0 && std::signbit(d))
    return "-0.0"; // "-0" would read back as the integer 0
  if (std::nearbyint(d) == d && std::fabs(d) < 1e15) { // 10000, not 1e+04
    std::snprintf(buf, sizeof buf, "%.0f", d);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d)
      break;
  }
  std::string s = buf;
  // Keep it a number JSON reads as one (no "inf"; "1e+20" is valid JSON).
  return s;
}

std::string json::quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  return out + "\"";
}

namespace {
void writeValue(const Value &v, int indent, int level, std::string &out) {
  auto newline = [&](int lvl) {
    if (indent > 0) {
      out += '\n';
      out.append(static_cast<size_t>(indent * lvl), ' ');
    }
  };
  switch (v.kind()) {
  case Value::Kind::Null:
    out += "null";
    return;
  case Value::Kind::Bool:
    out += *v.asBool() ? "true" : "false";
    return;
  case Value::Kind::Integer:
    out += std::to_string(*v.asInteger());
    return;
  case Value::Kind::Number:
    out += formatNumber(*v.asNumber());
    return;
  case Value::Kind::String:
    out += quote(*v.asString());
    return;
  case Value::Kind::Array: {
    const Array &a = *v.asArray();
    if (a.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < a.size(); ++i) {
      if (i)
        out += ',';
      newline(level + 1);
      writeValue(a[i], indent, level + 1, out);
    }
    newline(level);
    out += ']';
    return;
  }
  case Value::Kind::Object: {
    const Object &o = *v.asObject();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out += '{';
    bool first = true;
    for (const auto &[key, value] : o) {
      if (!first)
        out += ',';
      first = false;
      newline(level + 1);
      out += quote(key);
      out += indent > 0 ? ": " : ":";
      writeValue(value, indent, level + 1, out);
    }
    newline(level);
    out += '}';
    return;
  }
  }
}
} // namespace

std::string json::write(const Value &value, int indent) {
  std::string out;
  writeValue(value, indent, 0, out);
  return out;
}
