//===- CpuKernels.cpp -----------------------------------------------------===//
#include "CpuKernels.h"

void shear::rt::registerCpuKernels(KernelRegistry &r) {
  cpu::registerEmbed(r);
  cpu::registerRMSNorm(r);
  cpu::registerAttention(r);
  cpu::registerMLP(r);
  cpu::registerResidual(r);
  cpu::registerLMHead(r);
  cpu::registerGate(r);
  cpu::registerCrossEntropy(r);
  cpu::registerLagrangian(r);
  cpu::registerOptimizer(r);
  cpu::registerConstants(r);
}
