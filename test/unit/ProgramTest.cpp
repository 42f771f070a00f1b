// Program files: printing and parsing round-trip, and every structural rule
// the reader enforces (a program is input: it may be old, edited or corrupt).
#include "shear/Support/Program.h"

#include <gtest/gtest.h>

using namespace shear;

namespace {
AttrValue number(double v) {
  AttrValue a;
  a.type = AttrType::Float;
  a.f = v;
  return a;
}

// weight w [4]; y = rms_norm(x, w) {eps}; z = residual_add(x, y, -, -); return z
ProgramFile smallProgram() {
  ProgramFile p;
  p.mode = "eval";
  p.model.vocab = 7;
  p.model.signature = "test";
  p.weights.push_back({"w", "weights.safetensors", DType::BF16, {4}, false, "", false});
  ProgramFunction f;
  f.name = "forward";
  f.values = {{DType::F32, {-1, -1, 4}}, {DType::BF16, {4}}, {DType::F32, {-1, -1, 4}},
              {DType::F32, {-1, -1, 4}}};
  f.args = {0};
  ProgramInstr w;
  w.kind = ProgramInstr::Kind::Weight;
  w.weight = 0;
  w.results = {1};
  ProgramInstr norm;
  norm.kernel = KernelId::RMSNorm;
  norm.operands = {0, 1, -1};
  norm.results = {2};
  norm.attrs["eps"] = number(1e-5);
  norm.loc = "model.mlir:3:5";
  ProgramInstr add;
  add.kernel = KernelId::ResidualAdd;
  add.operands = {0, 2, -1, -1};
  add.results = {3};
  f.body = {w, norm, add};
  f.returns = {3};
  p.functions.push_back(f);
  return p;
}

std::string readError(const std::string &text) {
  auto p = parseProgram(text, "p.json");
  return p.ok() ? "" : p.status().message();
}

std::string replaced(std::string s, const std::string &from, const std::string &to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}
} // namespace

TEST(Program, Types) {
  EXPECT_EQ(typeToString({DType::F32, {-1, 3}}), "f32[?,3]");
  EXPECT_EQ(typeToString({DType::I64, {}}), "i64[]");
  auto t = parseType("bf16[2,?,5]");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->dtype, DType::BF16);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{2, -1, 5}));
  EXPECT_FALSE(parseType("f33[2]").has_value());
  EXPECT_FALSE(parseType("f32[2,x]").has_value());
}

TEST(Program, PrintParseRoundTrip) {
  ProgramFile p = smallProgram();
  ASSERT_TRUE(verifyProgram(p).ok()) << verifyProgram(p).message();
  std::string text = printProgram(p);
  EXPECT_TRUE(looksLikeProgram(text));
  EXPECT_FALSE(looksLikeProgram("module {\n}"));
  EXPECT_NE(text.find(R"({"kernel":"rms_norm","operands":[0,1,null],"results":[2],"types":["f32[?,?,4]"],"attrs":{"eps":1e-05},"loc":"model.mlir:3:5"})"),
            std::string::npos)
      << text;
  auto back = parseProgram(text, "p.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(printProgram(*back), text);
  const ProgramFunction *f = back->function("forward");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->body[1].kernel, KernelId::RMSNorm);
  EXPECT_EQ(f->body[1].operands, (std::vector<int>{0, 1, -1}));
  EXPECT_EQ(f->body[1].attrs.at("eps").f, 1e-5);
  EXPECT_EQ(back->weights[0].dtype, DType::BF16);
}

// A distillation teacher's weight: its tensor has another name in the file,
// and it is frozen; both survive print and parse, and name the file's tensor.
TEST(Program, FrozenWeightsKeepTheirTensorName) {
  ProgramFile p = smallProgram();
  p.weights[0] = {"teacher.w", "teacher/weights.safetensors", DType::BF16, {4}, false, "w", true};
  std::string text = printProgram(p);
  EXPECT_NE(text.find(R"("tensor":"w")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("frozen":true)"), std::string::npos) << text;
  auto back = parseProgram(text, "p.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->weights[0].tensorName(), "w");
  EXPECT_EQ(back->weights[0].name, "teacher.w");
  EXPECT_TRUE(back->weights[0].frozen);
  EXPECT_EQ(smallProgram().weights[0].tensorName(), "w"); // no tensor: the weight's own name
  EXPECT_FALSE(smallProgram().weights[0].frozen);
}

TEST(Program, TheReaderRefusesBrokenPrograms) {
  std::string good = printProgram(smallProgram());
  EXPECT_NE(readError(replaced(good, "\"version\": 3", "\"version\": 7")).find("program format version 7"),
            std::string::npos);
  EXPECT_NE(readError("{}").find("not a shear program file"), std::string::npos);
  EXPECT_NE(readError(replaced(good, "\"rms_norm\"", "\"rms_normalize\"")).find("unknown kernel 'rms_normalize'"),
            std::string::npos);
  // A required operand left empty, an optional result where none may be.
  EXPECT_NE(readError(replaced(good, "[0,1,null]", "[null,1,null]")).find("operand 'x' is required"),
            std::string::npos);
  EXPECT_NE(readError(replaced(good, "[0,1,null]", "[0,1]")).find("2 operand slots, the kernel table declares 3"),
            std::string::npos);
  // Use before definition, and an attribute of the wrong type or unknown.
  EXPECT_NE(readError(replaced(good, "[0,1,null]", "[3,1,null]")).find("value %3 is used before it is defined"),
            std::string::npos);
  EXPECT_NE(readError(replaced(good, "{\"eps\":1e-05}", "{\"eps\":\"small\"}")).find("attribute 'eps' of 'rms_norm' must be float"),
            std::string::npos);
  EXPECT_NE(readError(replaced(good, "{\"eps\":1e-05}", "{\"eps\":1e-05,\"gamma\":1}")).find("has no attribute 'gamma'"),
            std::string::npos);
  EXPECT_NE(readError(replaced(good, "{\"eps\":1e-05}", "{}")).find("attribute 'eps' is required"),
            std::string::npos);
  // An integer operand where a float one is declared.
  EXPECT_NE(readError(replaced(good, "\"arg_types\": [\"f32[?,?,4]\"]", "\"arg_types\": [\"i64[?,?,4]\"]"))
                .find("operand 'x' must be a float tensor"),
            std::string::npos);
  // A weight read with another shape than the weight's.
  EXPECT_NE(readError(replaced(good, "\"types\":[\"bf16[4]\"]", "\"types\":[\"bf16[5]\"]")).find("weight 'w' has shape [4]"),
            std::string::npos);
  // Errors name the file.
  EXPECT_EQ(readError("[").rfind("p.json: ", 0), 0u);
}
