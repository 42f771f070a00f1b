//===- CommunicatorTest.cpp - gradient averaging and agreement ------------===//
//
// A scripted peer stands in for the other ranks: its allReduce adds known
// values (what another rank would contribute), so the packing of several
// tensors into one collective, the scaling and the failure agreement are
// checked against hand-computed results without launching MPI.
//
//===----------------------------------------------------------------------===//
#include "shear/Runtime/Backend.h"
#include "shear/Runtime/Communicator.h"

#include <gtest/gtest.h>

using namespace shear;
using namespace shear::rt;

namespace {
/// Rank `me` of two; the other rank contributes `peer` (floats, in order of
/// the reduced buffer) or, for integer reductions, `peerInts`.
class ScriptedPeer : public Communicator {
public:
  ScriptedPeer(int me, std::vector<float> peer, std::vector<int64_t> peerInts = {})
      : me_(me), peer_(std::move(peer)), peerInts_(std::move(peerInts)) {}
  int rank() const override { return me_; }
  int size() const override { return 2; }
  std::string describe() const override { return "scripted rank"; }
  Status allReduce(void *data, size_t count, DType dtype, ReduceOp op) override {
    ++calls;
    if (dtype == DType::F32) {
      EXPECT_EQ(count, peer_.size());
      for (size_t i = 0; i < count; ++i)
        static_cast<float *>(data)[i] += peer_[i];
    } else if (dtype == DType::I64) {
      EXPECT_EQ(count, peerInts_.size());
      for (size_t i = 0; i < count; ++i) {
        int64_t &v = static_cast<int64_t *>(data)[i];
        v = op == ReduceOp::Max ? std::max(v, peerInts_[i]) : v + peerInts_[i];
      }
    }
    return Status();
  }
  Status broadcast(void *, size_t, int) override { return Status(); }
  Status allGather(const void *, size_t, void *) override { return Status(); }
  Status reduceScatter(const void *, void *, size_t, DType, ReduceOp) override { return Status(); }
  Status barrier() override { return Status(); }
  [[noreturn]] void abort(int) override { std::abort(); }
  int calls = 0;

private:
  int me_;
  std::vector<float> peer_;
  std::vector<int64_t> peerInts_;
};

Tensor filled(std::vector<int64_t> shape, std::vector<float> values) {
  Tensor t = Tensor::empty(std::move(shape));
  std::copy(values.begin(), values.end(), t.f32());
  return t;
}
} // namespace

TEST(Communicator, MeanOfSeveralTensorsInOneCollective) {
  Tensor a = filled({2}, {1, 2}), b = filled({1, 3}, {10, 20, 30});
  // The other rank holds a = {3, 4}, b = {-10, 0, 10}: the buffer is a then b.
  ScriptedPeer peer(0, {3, 4, -10, 0, 10});
  ASSERT_TRUE(allReduceMean(peer, {&a, &b}).ok());
  EXPECT_EQ(peer.calls, 1);
  EXPECT_EQ(peer.meanCalls, 1u);
  EXPECT_EQ(peer.meanBytes, 20u);
  EXPECT_FLOAT_EQ(a.f32()[0], 2);
  EXPECT_FLOAT_EQ(a.f32()[1], 3);
  EXPECT_FLOAT_EQ(b.f32()[0], 0);
  EXPECT_FLOAT_EQ(b.f32()[1], 10);
  EXPECT_FLOAT_EQ(b.f32()[2], 20);
}

TEST(Communicator, MeanOfOneTensorInPlace) {
  Tensor a = filled({3}, {1, -1, 5});
  ScriptedPeer peer(1, {3, 1, -5});
  ASSERT_TRUE(allReduceMean(peer, {&a}).ok());
  EXPECT_FLOAT_EQ(a.f32()[0], 2);
  EXPECT_FLOAT_EQ(a.f32()[1], 0);
  EXPECT_FLOAT_EQ(a.f32()[2], 0);
  Tensor ids = Tensor::empty({2}, DType::I64);
  EXPECT_FALSE(allReduceMean(peer, {&ids}).ok()); // gradients are float32
}

TEST(Communicator, AgreeReportsOnceOnTheLowestFailingRank) {
  // Both succeed.
  ScriptedPeer quiet(0, {}, {0, 0});
  EXPECT_TRUE(quiet.agree(Status()).ok());
  EXPECT_FALSE(quiet.failureAgreed());
  // Rank 1 fails with bad input (code 2; rank 1 of 2 sends 2 - 1 = 1), rank 0 did not.
  ScriptedPeer zero(0, {}, {2, 1});
  Status s = zero.agree(Status());
  EXPECT_EQ(s.exitCode(), 2);
  EXPECT_TRUE(s.message().empty()); // rank 1 reports it
  EXPECT_TRUE(zero.failureAgreed());
  // Seen from rank 1: its own message comes back.
  ScriptedPeer one(1, {}, {0, 0});
  Status mine = one.agree(invalidInput("bad batch"));
  EXPECT_EQ(mine.message(), "bad batch");
  // Both fail: rank 0 (sends 2) reports, rank 1 (sends 1) stays quiet.
  ScriptedPeer both(1, {}, {1, 2});
  Status quietOne = both.agree(runFailure("disk full"));
  EXPECT_EQ(quietOne.exitCode(), 1);
  EXPECT_TRUE(quietOne.message().empty());
}

// Tensors in device memory (the guarded device: memory the host may not
// touch outside copies) are averaged through host copies by their backend,
// and a bare collective of one is refused rather than handed to MPI.
TEST(Communicator, DeviceTensorsAreStagedThroughTheHost) {
  auto device = createGuardedBackend(1);
  ScriptedPeer peer(0, {10, 20, 30, 40, 50});
  Tensor a = Tensor::allocate(device->allocator(), {2}, DType::F32).take();
  Tensor b = Tensor::allocate(device->allocator(), {3}, DType::F32).take();
  ASSERT_TRUE(device->copy(a, filled({2}, {2, 4})).ok());
  ASSERT_TRUE(device->copy(b, filled({3}, {6, 8, 10})).ok());
  EXPECT_FALSE(allReduceMean(peer, {&a, &b}).ok()); // no backend to stage them
  ASSERT_TRUE(allReduceMean(peer, {&a, &b}, device.get()).ok());
  EXPECT_EQ(peer.calls, 1); // still one collective
  auto ha = device->toHost(a), hb = device->toHost(b);
  ASSERT_TRUE(ha.ok() && hb.ok());
  EXPECT_EQ(ha->f32()[0], 6.0f); // (2 + 10) / 2
  EXPECT_EQ(ha->f32()[1], 12.0f);
  EXPECT_EQ(hb->f32()[0], 18.0f);
  EXPECT_EQ(hb->f32()[2], 30.0f); // (10 + 50) / 2
  Communicator &comm = peer; // the Tensor overloads are the base class's
  Status bare = comm.allReduce(a);
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.message().find("stage it through the host"), std::string::npos) << bare.message();
  EXPECT_FALSE(comm.broadcast(a, 0).ok());
  EXPECT_TRUE(broadcastTensor(peer, *device, a, 0).ok());
}
