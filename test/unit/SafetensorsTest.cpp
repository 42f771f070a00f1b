// Unit tests of the safetensors reader and writer: round trips, conversions,
// and one test per validation rule (each must be an error naming the file,
// the tensor and the problem).
#include "shear/Support/Safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <unistd.h>

using namespace shear;

namespace {

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "shear-st-" + std::to_string(getpid()) + "-" + name;
}

// Writes an 8-byte length, `header`, then `dataBytes` bytes of data.
std::string writeRaw(const std::string &name, const std::string &header, size_t dataBytes,
                     int64_t lengthOverride = -1) {
  std::string path = tempPath(name);
  std::ofstream out(path, std::ios::binary);
  uint64_t n = lengthOverride >= 0 ? lengthOverride : header.size();
  for (int i = 0; i < 8; ++i)
    out.put(static_cast<char>(n >> (8 * i)));
  out << header;
  for (size_t i = 0; i < dataBytes; ++i)
    out.put(static_cast<char>(i));
  return path;
}

std::string openError(const std::string &path) {
  auto f = SafetensorsFile::open(path);
  if (f.ok())
    return "";
  return f.status().message();
}

void expectError(const std::string &path, std::initializer_list<const char *> parts) {
  std::string err = openError(path);
  ASSERT_FALSE(err.empty()) << "expected an error for " << path;
  EXPECT_NE(err.find(path), std::string::npos) << err;
  for (const char *p : parts)
    EXPECT_NE(err.find(p), std::string::npos) << "'" << p << "' not in: " << err;
}

} // namespace

TEST(Safetensors, RoundTripAllFloatTypesAndIntegers) {
  std::string path = tempPath("roundtrip.safetensors");
  std::vector<TensorSpec> specs = {{"a.f32", DType::F32, {2, 3}},
                                   {"b.bf16", DType::BF16, {4}},
                                   {"c.f16", DType::F16, {1, 2}},
                                   {"d.i64", DType::I64, {3}},
                                   {"e.empty", DType::F32, {0, 5}}};
  auto w = SafetensorsWriter::create(path, specs, {{"format", "pt"}});
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_TRUE(((*w)->writeF32({1, -2, 3.5f, 0, 1e-3f, 7})).ok());
  ASSERT_TRUE(((*w)->writeF32({1.0f, -0.5f, 3.0f, 256.0f})).ok());
  ASSERT_TRUE(((*w)->writeF32({0.25f, -65504.0f})).ok());
  int64_t ints[3] = {1, -2, 1LL << 40};
  ASSERT_TRUE(((*w)->write(reinterpret_cast<uint8_t *>(ints), sizeof ints)).ok());
  ASSERT_TRUE(((*w)->writeF32({})).ok());
  ASSERT_TRUE(((*w)->commit()).ok());

  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ((*f)->tensors().size(), 5u);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  const TensorInfo *a = (*f)->find("a.f32");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ((*f)->readF32(*a), (std::vector<float>{1, -2, 3.5f, 0, 1e-3f, 7}));
  EXPECT_EQ((*f)->readF32(*(*f)->find("b.bf16")), (std::vector<float>{1.0f, -0.5f, 3.0f, 256.0f}));
  EXPECT_EQ((*f)->readF32(*(*f)->find("c.f16")), (std::vector<float>{0.25f, -65504.0f}));
  const TensorInfo *d = (*f)->find("d.i64");
  int64_t back[3];
  std::memcpy(back, (*f)->data(*d), sizeof back);
  EXPECT_EQ(back[2], 1LL << 40);
  EXPECT_EQ((*f)->find("e.empty")->byteSize(), 0u);
  EXPECT_EQ((*f)->find("missing"), nullptr);
}

TEST(Safetensors, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32ToBf16(1.0f), 0x3F80);
  // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties go to even (1.0).
  EXPECT_EQ(f32ToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  // 1 + 3·2^-8 is halfway between 1+2^-7 (odd) and 1+2^-6 (even): rounds up.
  EXPECT_EQ(f32ToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  EXPECT_EQ(f32ToBf16(-2.0f), 0xC000);
  EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBf16(NAN))));
  EXPECT_EQ(bf16ToF32(0x4049), 3.140625f);
}

TEST(Safetensors, F16ConversionIsExactForEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = f16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f))
      continue;
    ASSERT_EQ(f32ToF16(f), h) << "half bits " << h;
  }
  EXPECT_EQ(f32ToF16(1.0f), 0x3C00);
  EXPECT_EQ(f32ToF16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32ToF16(1e6f), 0x7C00); // overflow to infinity
  EXPECT_EQ(f16ToF32(0x0001), std::ldexp(1.0f, -24)); // smallest subnormal
  // 1 + 2^-11 is halfway between 1 and the next half: ties to even (1.0).
  EXPECT_EQ(f32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
}

TEST(Safetensors, TooShortForHeaderLength) {
  std::string path = tempPath("short.safetensors");
  std::ofstream(path, std::ios::binary) << "abc";
  expectError(path, {"too short"});
}

TEST(Safetensors, HeaderLengthBeyondFile) {
  expectError(writeRaw("hlen.safetensors", "{}", 0, 1000), {"header length 1000", "exceeds"});
}

TEST(Safetensors, InvalidJson) {
  expectError(writeRaw("json.safetensors", "{\"a\": {", 0), {"invalid JSON"});
}

TEST(Safetensors, UnknownDtype) {
  expectError(writeRaw("dtype.safetensors",
                       R"({"w":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}})", 4),
              {"tensor 'w'", "unknown dtype 'F17'"});
}

TEST(Safetensors, OffsetsOutOfRange) {
  expectError(writeRaw("range.safetensors",
                       R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
              {"tensor 'w'", "out of range"});
}

TEST(Safetensors, OverlappingData) {
  expectError(writeRaw("overlap.safetensors",
                       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                       12),
              {"tensor 'b'", "overlaps tensor 'a'"});
}

TEST(Safetensors, NonContiguousData) {
  expectError(writeRaw("gap.safetensors",
                       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                       12),
              {"tensor 'b'", "non-contiguous"});
}

TEST(Safetensors, TrailingOrTruncatedData) {
  expectError(writeRaw("trail.safetensors",
                       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 9),
              {"cover 4 bytes", "holds 9"});
}

TEST(Safetensors, ShapeByteCountMismatch) {
  expectError(writeRaw("mismatch.safetensors",
                       R"({"w":{"dtype":"BF16","shape":[3,2],"data_offsets":[0,8]}})", 8),
              {"tensor 'w'", "[3, 2]", "needs 12 bytes", "span 8"});
}

TEST(Safetensors, DuplicateNames) {
  expectError(writeRaw("dup.safetensors",
                       R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                       8),
              {"tensor 'w'", "duplicate"});
}

TEST(Safetensors, MissingFieldsAndNegativeShape) {
  expectError(writeRaw("noshape.safetensors", R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4),
              {"tensor 'w'", "missing 'shape'"});
  expectError(writeRaw("neg.safetensors",
                       R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
              {"tensor 'w'", "non-negative"});
}

TEST(Safetensors, MissingFile) {
  expectError(tempPath("does-not-exist.safetensors"), {"cannot open"});
}

TEST(Safetensors, UncommittedWriterLeavesExistingFileIntact) {
  std::string path = tempPath("keep.safetensors");
  ASSERT_TRUE((writeF32Tensors(path, {{TensorSpec{"old", DType::F32, {2}}, {1, 2}}})).ok());
  {
    auto w = SafetensorsWriter::create(path, {{"new", DType::F32, {2}}});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(((*w)->writeF32({5, 6})).ok());
    // destroyed without commit(): an interrupted write
  }
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.ok());
  ASSERT_NE((*f)->find("old"), nullptr);
  EXPECT_EQ((*f)->readF32(*(*f)->find("old")), (std::vector<float>{1, 2}));
  EXPECT_NE(access((path + ".tmp." + std::to_string(getpid())).c_str(), F_OK), 0);
}

TEST(Safetensors, WriterRejectsWrongSizesAndIncompleteFiles) {
  std::string path = tempPath("bad-writes.safetensors");
  auto w = SafetensorsWriter::create(path, {{"a", DType::F32, {2}}, {"b", DType::F32, {1}}});
  ASSERT_TRUE(w.ok());
  Status e = (*w)->writeF32({1, 2, 3});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.message().find("tensor 'a'"), std::string::npos);
  ASSERT_TRUE(((*w)->writeF32({1, 2})).ok());
  Status c = (*w)->commit();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.message().find("only 1 of 2"), std::string::npos);
}

TEST(Safetensors, ShardIndex) {
  std::string path = tempPath("model.safetensors.index.json");
  std::ofstream(path) << R"({"metadata":{"total_size":8},"weight_map":{"a":"x.safetensors","b":"y.safetensors"}})";
  auto map = readShardIndex(path);
  ASSERT_TRUE(map.ok()) << map.status().message();
  EXPECT_EQ(map->at("b"), "y.safetensors");
  std::string bad = tempPath("bad.index.json");
  std::ofstream(bad) << R"({"metadata":{}})";
  auto err = readShardIndex(bad);
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.status().message().find("weight_map"), std::string::npos);
}
