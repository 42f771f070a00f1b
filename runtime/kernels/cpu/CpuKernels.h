//===- CpuKernels.h - registration of the CPU kernels, one file per op ----===//
#ifndef SHEAR_RUNTIME_KERNELS_CPU_CPUKERNELS_H
#define SHEAR_RUNTIME_KERNELS_CPU_CPUKERNELS_H

#include "shear/Runtime/Kernels.h"

namespace shear::rt::cpu {
void registerEmbed(KernelRegistry &r);
void registerRMSNorm(KernelRegistry &r);
void registerAttention(KernelRegistry &r);
void registerMLP(KernelRegistry &r);
void registerResidual(KernelRegistry &r);
void registerLMHead(KernelRegistry &r);
void registerGate(KernelRegistry &r);
void registerCrossEntropy(KernelRegistry &r);
void registerLagrangian(KernelRegistry &r);
void registerOptimizer(KernelRegistry &r);
void registerConstants(KernelRegistry &r);
} // namespace shear::rt::cpu

#endif
