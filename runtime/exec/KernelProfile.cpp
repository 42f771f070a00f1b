//===- KernelProfile.cpp - where a function's time goes, kernel by kernel -===//
#include "shear/Runtime/KernelProfile.h"

#include <algorithm>
#include <cstdio>

using namespace shear;
using namespace shear::rt;

void KernelProfile::addCall(KernelId kernel, double seconds) {
  Entry &e = kernels_[static_cast<size_t>(kernel)];
  e.calls += 1;
  e.seconds += seconds;
}

void KernelProfile::addRun(double seconds) {
  runs_ += 1;
  runSeconds_ += seconds;
}

std::vector<size_t> KernelProfile::byTime() const {
  std::vector<size_t> order;
  for (size_t k = 0; k < kernels_.size(); ++k)
    if (kernels_[k].calls > 0)
      order.push_back(k);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return kernels_[a].seconds != kernels_[b].seconds ? kernels_[a].seconds > kernels_[b].seconds : a < b;
  });
  return order;
}

std::string KernelProfile::table(const std::string &function) const {
  double total = 0;
  int64_t calls = 0;
  for (const Entry &e : kernels_) {
    total += e.seconds;
    calls += e.calls;
  }
  char line[200];
  std::string out = "kernel profile of " + function + " (" + std::to_string(runs_) +
                    " runs; the host waited for every kernel):\n";
  std::snprintf(line, sizeof line, "  %-30s %8s %10s %7s %10s\n", "kernel", "calls", "seconds", "share", "ms/call");
  out += line;
  for (size_t k : byTime()) {
    const Entry &e = kernels_[k];
    std::snprintf(line, sizeof line, "  %-30s %8lld %10.3f %6.1f%% %10.3f\n",
                  kernelDecl(static_cast<KernelId>(k)).name.c_str(), (long long)e.calls, e.seconds,
                  total > 0 ? 100 * e.seconds / total : 0.0, 1e3 * e.seconds / e.calls);
    out += line;
  }
  std::snprintf(line, sizeof line, "  %-30s %8lld %10.3f: %.1f%% of the runs' %.3f s", "all kernels",
                (long long)calls, total, runSeconds_ > 0 ? 100 * total / runSeconds_ : 0.0, runSeconds_);
  return out + line;
}

json::Value KernelProfile::toJson(const std::string &function) const {
  json::Array list;
  for (size_t k : byTime())
    list.push_back(json::Object{{"kernel", kernelDecl(static_cast<KernelId>(k)).name},
                                {"calls", kernels_[k].calls},
                                {"seconds", kernels_[k].seconds}});
  return json::Object{{"function", function},
                      {"runs", runs_},
                      {"run_seconds", runSeconds_},
                      {"kernels", std::move(list)}};
}
