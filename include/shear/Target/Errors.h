//===- Errors.h - the compiler's errors, and the support library's --------===//
//
// The compiler reports with llvm::Error; the support library it shares with
// the runtime returns shear::Status / Result<T>. toLlvm() converts at the
// boundary, keeping the message (which already names the file).
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TARGET_ERRORS_H
#define SHEAR_TARGET_ERRORS_H

#include "shear/Support/Status.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

namespace shear {

/// An error whose message is "<file>: <what>".
inline llvm::Error llvmFileError(llvm::StringRef file, const llvm::Twine &what) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), (file + ": " + what).str());
}

inline llvm::Error toLlvm(const Status &status) {
  if (status.ok())
    return llvm::Error::success();
  return llvm::createStringError(llvm::inconvertibleErrorCode(), status.message());
}

template <typename T> llvm::Expected<T> toLlvm(Result<T> result) {
  if (!result.ok())
    return toLlvm(result.status());
  return result.take();
}

} // namespace shear

#endif
