//===- NoCompiler.cpp - a runtime-only shear-run runs programs only -------===//
#include "ModelCompiler.h"

using namespace shear;

bool shear::hasCompiler() { return false; }

Result<ProgramFile> shear::compileModule(const std::string &path, const CompileRequest &request) {
  return invalidInput(path + ": this shear-run was built without the compiler "
                             "(SHEAR_BUILD_COMPILER=OFF) and runs program files only; compile "
                             "the model where shear is fully built: shear-run compile " +
                      path + " --mode " + request.mode + " -o PROGRAM");
}

Status shear::startGatesFromScores(const std::string &masked, const std::string &, const std::string &) {
  return invalidInput(masked + ": this shear-run was built without the compiler (SHEAR_BUILD_COMPILER=OFF): "
                               "starting the gates from activation scores needs it; use --init module, "
                               "or prepare the gates where shear is fully built (docs/one-shot.md)");
}
