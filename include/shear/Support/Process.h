//===- Process.h - running a helper program -------------------------------===//
//
// shear's tools hand SentencePiece work to shear-spm, a process of its own
// (TOOLCHAIN.md: its bundled protobuf cannot share a process with others).
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_SUPPORT_PROCESS_H
#define SHEAR_SUPPORT_PROCESS_H

#include "shear/Support/Status.h"

#include <string>
#include <vector>

namespace shear {

/// Runs `program` with `args` (no shell) and returns what it wrote to stdout.
/// If it cannot start or exits non-zero, the error carries the lines it
/// wrote to stderr that start with "<name>: error: " (its own messages, not
/// library logs), or all of stderr when there are none.
Result<std::string> runProgram(const std::string &program, const std::vector<std::string> &args);

/// The directory of the running executable (helpers live beside it).
std::string executableDirectory();

} // namespace shear

#endif
