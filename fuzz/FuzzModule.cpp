// libFuzzer target: the MLIR module reader (parse and verify every op,
// kernel calls against the kernel table) and the model-structure check.
#include "shear/Dialect/ShearDialect.h"
#include "shear/Support/Nesting.h"
#include "shear/Target/ModelView.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::MLIRContext *context = [] {
    auto *c = new mlir::MLIRContext();
    c->loadDialect<shear::ShearDialect, mlir::func::FuncDialect>();
    c->printOpOnDiagnostic(false);
    c->getDiagEngine().registerHandler([](mlir::Diagnostic &) {}); // quiet
    return c;
  }();
  // MLIR's lexer relies on the NUL after a buffer, as files read by
  // MemoryBuffer have: give the input one.
  std::string text(reinterpret_cast<const char *>(data), size);
  // As every module reader does: nesting MLIR's recursive parser cannot take is refused first.
  if (!shear::moduleNestingError(text, "fuzz").empty())
    return 0;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(llvm::StringRef(text.c_str(), size), context);
  if (module)
    (void)shear::readModelView(*module, "/nonexistent");
  return 0;
}
