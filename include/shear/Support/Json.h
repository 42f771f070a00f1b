//===- Json.h - JSON values, a strict parser and a writer -----------------===//
//
// The runtime's JSON (manifests, run state, program files, safetensors
// headers), independent of LLVM. Objects keep their keys sorted, so output is
// deterministic. The parser is strict (RFC 8259), bounds nesting depth (deep
// input cannot exhaust the stack) and reports duplicate keys; the writer
// writes non-finite numbers as null, so what it writes is always valid JSON.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_SUPPORT_JSON_H
#define SHEAR_SUPPORT_JSON_H

#include "shear/Support/Status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shear::json {

class Value;
using Array = std::vector<Value>;
using Object = std::map<std::string, Value, std::less<>>;

class Value {
public:
  enum class Kind { Null, Bool, Integer, Number, String, Array, Object };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : kind_(Kind::Bool), bool_(b) {}
  Value(int i) : kind_(Kind::Integer), int_(i) {}
  Value(long i) : kind_(Kind::Integer), int_(i) {}
  Value(long long i) : kind_(Kind::Integer), int_(i) {}
  Value(unsigned i) : kind_(Kind::Integer), int_(i) {}
  Value(unsigned long i) : kind_(Kind::Integer), int_(static_cast<int64_t>(i)) {}
  Value(double d) : kind_(Kind::Number), number_(d) {}
  Value(const char *s) : kind_(Kind::String), string_(s) {}
  Value(std::string s) : kind_(Kind::String), string_(std::move(s)) {}
  Value(std::string_view s) : kind_(Kind::String), string_(s) {}
  Value(json::Array a);
  Value(json::Object o);
  Value(const Value &other);
  Value(Value &&other) noexcept = default;
  Value &operator=(const Value &other);
  Value &operator=(Value &&other) noexcept = default;
  ~Value();

  Kind kind() const { return kind_; }
  bool isNull() const { return kind_ == Kind::Null; }
  std::optional<bool> asBool() const;
  /// Integers, and numbers with an integral value that fits in 64 bits.
  std::optional<int64_t> asInteger() const;
  std::optional<double> asNumber() const;
  const std::string *asString() const;
  const json::Array *asArray() const;
  json::Array *asArray();
  const json::Object *asObject() const;
  json::Object *asObject();

  /// Members of an object (nullptr / nullopt when absent or of another kind).
  const Value *get(std::string_view key) const;
  std::optional<int64_t> getInteger(std::string_view key) const;
  std::optional<double> getNumber(std::string_view key) const;
  std::optional<bool> getBool(std::string_view key) const;
  const std::string *getString(std::string_view key) const;
  const json::Array *getArray(std::string_view key) const;
  const json::Object *getObject(std::string_view key) const;

private:
  Kind kind_ = Kind::Null;
  bool bool_ = false;
  int64_t int_ = 0;
  double number_ = 0;
  std::string string_;
  std::unique_ptr<json::Array> array_;
  std::unique_ptr<json::Object> object_;
};

struct ParseOptions {
  int maxDepth = 64;            // arrays and objects nested deeper are refused
  bool allowDuplicateKeys = false;
  /// When set, receives the key of a refused duplicate (for messages that
  /// name it in the caller's terms).
  std::string *duplicateKey = nullptr;
};

/// Parses one JSON text. Errors say where (line, column) and what is wrong;
/// they carry no file name (callers add it).
Result<Value> parse(std::string_view text, const ParseOptions &options = {});

/// `value` as JSON text: on one line (indent 0) or pretty-printed with
/// `indent` spaces per level.
std::string write(const Value &value, int indent = 0);

/// A number as JSON writes it: the shortest text that reads back exactly.
std::string formatNumber(double d);

/// `s` as a quoted JSON string.
std::string quote(std::string_view s);

} // namespace shear::json

#endif
