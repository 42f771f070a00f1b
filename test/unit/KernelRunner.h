// Runs one kernel of a backend the way the executor does: attributes decoded
// into parameters, result shapes inferred, outputs and workspace allocated.
#ifndef SHEAR_TEST_UNIT_KERNELRUNNER_H
#define SHEAR_TEST_UNIT_KERNELRUNNER_H

#include "shear/Runtime/Backend.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

namespace shear::test {

inline AttrValue number(double v) {
  AttrValue a;
  a.type = AttrType::Float;
  a.f = v;
  return a;
}
inline AttrValue integer(int64_t v) {
  AttrValue a;
  a.type = AttrType::Int;
  a.i = v;
  return a;
}

/// Operands per declared slot (an undefined tensor for an absent one);
/// results in `resultTypes` (per result; float32 where not given).
inline std::vector<rt::Tensor> runKernel(rt::Backend &backend, const std::string &name,
                                         std::vector<rt::Tensor> operands,
                                         const std::map<std::string, AttrValue> &attrs,
                                         const std::vector<DType> &resultTypes = {}) {
  const KernelDecl *decl = findKernel(name);
  EXPECT_NE(decl, nullptr) << name;
  auto params = rt::decodeParams(decl->id, attrs);
  EXPECT_TRUE(params.ok()) << params.status().message();
  // Optional operands left out at the end are absent.
  if (!decl->variadic() && operands.size() < decl->operands.size())
    operands.resize(decl->operands.size());
  std::vector<const rt::Shape *> shapes;
  rt::KernelIO io;
  for (rt::Tensor &t : operands) {
    shapes.push_back(t.defined() ? &t.shape() : nullptr);
    io.in.push_back(t.defined() ? &t : nullptr);
  }
  std::vector<rt::Shape> resultShapes;
  Status inferred = rt::inferShapes(decl->id, *params, shapes, resultShapes);
  EXPECT_TRUE(inferred.ok()) << inferred.message();
  std::vector<rt::Tensor> results(decl->results.size());
  for (size_t r = 0; r < decl->results.size(); ++r) {
    const ResultDecl &rd = decl->results[r];
    if (rd.presentWith >= 0 && !operands[rd.presentWith].defined())
      continue;
    // An in-place result has its operand's type unless one is given.
    DType type = r < resultTypes.size() ? resultTypes[r]
                 : rd.updates >= 0      ? operands[rd.updates].dtype()
                                        : DType::F32;
    results[r] = rt::Tensor::empty(resultShapes[r], type);
    if (rd.updates >= 0)
      std::memcpy(results[r].data(), operands[rd.updates].data(), results[r].bytes());
  }
  for (rt::Tensor &t : results)
    io.out.push_back(t.defined() ? &t : nullptr);
  const rt::KernelImpl *impl = backend.kernel(decl->id);
  std::vector<char> workspace(impl->workspace ? impl->workspace(*params, shapes) : 0);
  io.workspace = workspace.data();
  io.workspaceBytes = workspace.size();
  Status ran = impl->run(backend.context(), *params, io);
  EXPECT_TRUE(ran.ok()) << ran.message();
  return results;
}

inline rt::Tensor vec(std::vector<float> v) {
  rt::Tensor t = rt::Tensor::empty({static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.f32());
  return t;
}

} // namespace shear::test

#endif
