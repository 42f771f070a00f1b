//===- Kernels.cpp - kernel registry and attributes -----------------------===//
#include "shear/Runtime/Kernels.h"

#include <cstdio>
#include <cstdlib>

using namespace shear::rt;

double KernelAttrs::number(const std::string &name, double fallback) const {
  auto it = numbers.find(name);
  return it == numbers.end() ? fallback : it->second;
}

double KernelAttrs::number(const std::string &name) const {
  auto it = numbers.find(name);
  if (it == numbers.end()) {
    std::fprintf(stderr, "shear: internal error: kernel attribute '%s' missing\n", name.c_str());
    std::abort();
  }
  return it->second;
}

std::string KernelAttrs::string(const std::string &name, const std::string &fallback) const {
  auto it = strings.find(name);
  return it == strings.end() ? fallback : it->second;
}

const Tensor *KernelCall::mask(const std::string &mask, size_t numFixed) const {
  for (size_t i = 0; i < attrs->masks.size(); ++i)
    if (attrs->masks[i] == mask)
      return numFixed + i < args.size() ? args[numFixed + i] : nullptr;
  return nullptr;
}

const KernelFn *KernelRegistry::find(const std::string &name) const {
  auto it = kernels_.find(name);
  return it == kernels_.end() ? nullptr : &it->second;
}

std::vector<std::string> KernelRegistry::names() const {
  std::vector<std::string> out;
  for (const auto &kv : kernels_)
    out.push_back(kv.first);
  return out;
}

void shear::rt::kernelFailure(const KernelCall &call, const std::string &what) {
  std::fprintf(stderr, "shear: internal error in kernel '%s': %s\n",
               call.name ? call.name->c_str() : "?", what.c_str());
  std::abort();
}
