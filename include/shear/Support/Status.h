//===- Status.h - errors as values, without LLVM --------------------------===//
//
// The runtime and the support library report failure with a Status (or a
// Result<T>, a value or a Status) and never exit: only the tools map a
// failure's kind to an exit code (0 success, 1 a failed run, 2 bad input or
// usage; docs/exit-codes.md).
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_SUPPORT_STATUS_H
#define SHEAR_SUPPORT_STATUS_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace shear {

enum class ErrorKind {
  None,
  InvalidInput, // a file, option or value from the user is wrong (exit code 2)
  Failed,       // the run could not complete: I/O, resources, diverged (exit code 1)
  Internal,     // a bug in shear (exit code 1, reported as such)
};

class [[nodiscard]] Status {
public:
  Status() = default; // success
  static Status success() { return Status(); }
  bool ok() const { return kind_ == ErrorKind::None; }
  ErrorKind kind() const { return kind_; }
  const std::string &message() const { return message_; }
  /// The same failure with `prefix` in front of its message.
  Status prefixed(const std::string &prefix) const {
    return ok() ? *this : Status(kind_, prefix + message_);
  }
  /// The process exit code the tools use for this status.
  int exitCode() const { return ok() ? 0 : kind_ == ErrorKind::InvalidInput ? 2 : 1; }

  Status(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

private:
  ErrorKind kind_ = ErrorKind::None;
  std::string message_;
};

inline Status invalidInput(std::string message) {
  return Status(ErrorKind::InvalidInput, std::move(message));
}
inline Status runFailure(std::string message) {
  return Status(ErrorKind::Failed, std::move(message));
}
inline Status internalError(std::string message) {
  return Status(ErrorKind::Internal, "internal error: " + std::move(message));
}
/// Bad input in a file: "<file>: <what>".
inline Status fileError(const std::string &file, const std::string &what) {
  return invalidInput(file + ": " + what);
}
/// A file that could not be written or read for reasons outside the input.
inline Status ioError(const std::string &file, const std::string &what) {
  return runFailure(file + ": " + what);
}

/// A value, or the Status that explains why there is none.
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : value_(std::move(value)) {}
  Result(Status status) : status_(std::move(status)) {
    assert(!status_.ok() && "a Result without a value needs a failed Status");
  }
  bool ok() const { return value_.has_value(); }
  const Status &status() const { return status_; }
  T &operator*() { return *value_; }
  const T &operator*() const { return *value_; }
  T *operator->() { return &*value_; }
  const T *operator->() const { return &*value_; }
  T take() { return std::move(*value_); }

private:
  std::optional<T> value_;
  Status status_;
};

} // namespace shear

/// Returns the Status of `expr` from the enclosing function when it failed.
#define SHEAR_RETURN_IF_ERROR(expr)                                                            \
  do {                                                                                         \
    ::shear::Status shearStatus_ = (expr);                                                     \
    if (!shearStatus_.ok())                                                                    \
      return shearStatus_;                                                                     \
  } while (0)

#endif
