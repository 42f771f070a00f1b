// The guarded test device (--device guarded) guards: its memory faults when
// host code touches it outside kernels, copy/toHost move the values, and a
// kernel handed a host tensor is refused by name. (test/Runtime/
// guarded-device.test runs every command on it.)
#include "shear/Runtime/Backend.h"

#include <gtest/gtest.h>

using namespace shear;
using namespace shear::rt;

namespace {
Tensor hostValues(std::vector<float> v) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())});
  for (size_t i = 0; i < v.size(); ++i)
    t.f32()[i] = v[i];
  return t;
}

Tensor onDevice(Backend &backend, const Tensor &host) {
  auto t = Tensor::allocate(backend.allocator(), host.shape(), host.dtype());
  EXPECT_TRUE(t.ok());
  EXPECT_TRUE(backend.copy(*t, host).ok());
  return *t;
}

Status runAdd(Backend &backend, const Tensor &a, const Tensor &b, const Tensor &y) {
  auto params = decodeParams(KernelId::Add, {});
  EXPECT_TRUE(params.ok());
  KernelIO io;
  io.in = {&a, &b};
  Tensor out = y;
  io.out = {&out};
  return backend.kernel(KernelId::Add)->run(backend.context(), *params, io);
}
} // namespace

TEST(GuardedBackend, HostAccessOutsideKernelsFaults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto backend = createGuardedBackend(1);
  Tensor t = onDevice(*backend, hostValues({1, 2, 3, 4}));
  EXPECT_EQ(t.device().str(), "guarded");
  auto back = backend->toHost(t);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->device().str(), "cpu");
  EXPECT_EQ(std::vector<float>(back->f32(), back->f32() + 4), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_DEATH({ volatile float x = t.f32()[2]; (void)x; }, "");
  EXPECT_DEATH({ t.f32()[0] = 5.0f; }, "");
  ASSERT_TRUE(backend->zero(t).ok());
  back = backend->toHost(t);
  EXPECT_EQ(std::vector<float>(back->f32(), back->f32() + 4), (std::vector<float>(4, 0.0f)));
}

TEST(GuardedBackend, KernelsTakeDeviceTensorsOnly) {
  auto backend = createGuardedBackend(1);
  Tensor a = onDevice(*backend, hostValues({1, 2, 3}));
  Tensor b = onDevice(*backend, hostValues({10, 20, 30}));
  Tensor y = onDevice(*backend, hostValues({0, 0, 0}));
  ASSERT_TRUE(runAdd(*backend, a, b, y).ok());
  auto sum = backend->toHost(y);
  EXPECT_EQ(std::vector<float>(sum->f32(), sum->f32() + 3), (std::vector<float>{11, 22, 33}));

  Status refused = runAdd(*backend, a, hostValues({1, 1, 1}), y);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("kernel 'add' got operand 1 in cpu memory, not the device's"),
            std::string::npos)
      << refused.message();
  refused = runAdd(*backend, a, b, hostValues({0, 0, 0}));
  EXPECT_NE(refused.message().find("kernel 'add' got result 0 in cpu memory"), std::string::npos)
      << refused.message();
}
