//===- Importance.cpp - activation importance of a model's units ----------===//
#include "shear/Runtime/Importance.h"

#include "shear/Runtime/BatchLoader.h"
#include "shear/Runtime/ParamStore.h"
#include "shear/Support/Safetensors.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace shear;
using namespace shear::rt;

std::vector<std::pair<int64_t, int64_t>> shear::rt::calibrationSequences(const Dataset &data,
                                                                         int64_t count, bool heldOut) {
  const Manifest &m = data.manifest();
  size_t n = m.domains.size();
  auto available = [&](size_t d) {
    return heldOut ? m.domains[d].evalSequences : m.domains[d].trainSequences;
  };
  int64_t total = 0;
  for (size_t d = 0; d < n; ++d)
    total += available(d);
  count = std::min(count, total);
  // Shares by the data mix, capped by what each domain has; what a capped
  // domain cannot take goes to the others in the next round.
  std::vector<int64_t> take(n, 0);
  for (int64_t left = count; left > 0;) {
    double weightSum = 0;
    for (size_t d = 0; d < n; ++d)
      if (take[d] < available(d))
        weightSum += m.domains[d].weight > 0 ? m.domains[d].weight : 0;
    std::vector<std::pair<double, size_t>> remainders;
    int64_t given = 0;
    for (size_t d = 0; d < n; ++d) {
      if (take[d] >= available(d))
        continue;
      double w = weightSum > 0 ? std::max(m.domains[d].weight, 0.0) / weightSum : 1.0 / n;
      double share = w * static_cast<double>(left);
      int64_t whole = std::min<int64_t>(static_cast<int64_t>(std::floor(share)), available(d) - take[d]);
      take[d] += whole;
      given += whole;
      remainders.push_back({share - std::floor(share), d});
    }
    // Largest remainder first; ties to the earlier domain.
    std::sort(remainders.begin(), remainders.end(), [](const auto &a, const auto &b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    int64_t rest = left - given;
    for (auto &[r, d] : remainders)
      if (rest > 0 && take[d] < available(d)) {
        ++take[d];
        --rest;
      }
    if (rest == left) // nothing more could be placed
      break;
    left = rest;
  }
  std::vector<std::pair<int64_t, int64_t>> out;
  for (size_t d = 0; d < n; ++d)
    for (int64_t i = 0; i < take[d]; ++i)
      out.push_back({static_cast<int64_t>(d), i});
  return out;
}

Result<ImportanceScores> shear::rt::computeImportance(const ProgramFile &program, Backend &backend,
                                                      const std::function<std::optional<Tensor>()> &next) {
  const ProgramFunction *f = program.function("importance");
  if (!f)
    return invalidInput(program.source + ": the program has no importance function (compile it with "
                                         "--mode importance)");
  const ProgramModel &model = program.model;
  ImportanceScores s;
  s.layers = model.layers;
  s.heads = model.heads;
  s.kvHeads = model.kvHeads;
  s.intermediate = model.intermediate;
  s.hidden = model.hidden;
  const int64_t L = s.layers, H = s.heads, G = s.kvHeads, M = s.intermediate, D = s.hidden;
  if (f->metrics.size() != static_cast<size_t>(1 + 3 * L))
    return invalidInput(program.source + ": the importance function returns " +
                        std::to_string(f->metrics.size()) + " statistics, not the " +
                        std::to_string(1 + 3 * L) + " of a " + std::to_string(L) + "-layer model");
  s.head.assign(L * H, 0);
  s.intermediateScores.assign(L * M, 0);
  s.hiddenScores.assign(D, 0);
  s.layer.assign(L, 0);

  auto e = Executable::load(program, "importance", backend);
  if (!e.ok())
    return e.status();
  ParamStore store(backend);
  while (std::optional<Tensor> ids = next()) {
    auto out = (*e)->run({*ids}, store);
    if (!out.ok())
      return out.status();
    // Adds a returned sum of `n` values into `into`.
    auto accumulate = [&](size_t r, double *into, int64_t n) -> Status {
      auto host = backend.toHost((*out)[r]);
      if (!host.ok())
        return host.status();
      if (host->numel() != n)
        return invalidInput(program.source + ": statistic '" + f->metrics[r] + "' has " +
                            std::to_string(host->numel()) + " values, expected " + std::to_string(n));
      for (int64_t i = 0; i < n; ++i)
        into[i] += host->f32()[i];
      return Status();
    };
    SHEAR_RETURN_IF_ERROR(accumulate(0, s.hiddenScores.data(), D));
    for (int64_t l = 0; l < L; ++l) {
      SHEAR_RETURN_IF_ERROR(accumulate(1 + 3 * l, s.head.data() + l * H, H));
      SHEAR_RETURN_IF_ERROR(accumulate(2 + 3 * l, s.intermediateScores.data() + l * M, M));
      SHEAR_RETURN_IF_ERROR(accumulate(3 + 3 * l, s.layer.data() + l, 1));
    }
    s.tokens += ids->numel();
  }
  if (s.tokens == 0)
    return invalidInput("no calibration tokens: the importance scores need at least one sequence");
  double n = static_cast<double>(s.tokens);
  for (auto *v : {&s.head, &s.intermediateScores, &s.hiddenScores})
    for (double &x : *v)
      x /= n;
  for (double &x : s.layer)
    x = 1.0 - x / n; // block influence
  s.kvGroup.assign(L * G, 0);
  for (int64_t l = 0; l < L; ++l)
    for (int64_t h = 0; h < H; ++h)
      s.kvGroup[l * G + h / (H / G)] += s.head[l * H + h];
  return s;
}

Result<ImportanceScores> shear::rt::computeImportanceOnData(const ProgramFile &program,
                                                           Backend &backend, const Dataset &data,
                                                           int64_t count, bool heldOut, int64_t batch) {
  std::vector<std::pair<int64_t, int64_t>> sequences = calibrationSequences(data, count, heldOut);
  size_t cursor = 0;
  int64_t n = data.manifest().seqLen + 1;
  return computeImportance(program, backend, [&]() -> std::optional<Tensor> {
    if (cursor >= sequences.size())
      return std::nullopt;
    int64_t b = std::min<int64_t>(batch, static_cast<int64_t>(sequences.size() - cursor));
    Tensor tokens = Tensor::empty({b, n}, DType::I64);
    for (int64_t i = 0; i < b; ++i, ++cursor) {
      auto [domain, index] = sequences[cursor];
      if (heldOut)
        data.readEval(domain, index, tokens.i64() + i * n);
      else
        data.readTrain(domain, index, tokens.i64() + i * n);
    }
    return splitInputsAndLabels(tokens).first;
  });
}

Status shear::rt::writeImportanceScores(const std::string &path, const ImportanceScores &s,
                                        std::map<std::string, std::string> metadata) {
  auto f32 = [](const std::vector<double> &v) { return std::vector<float>(v.begin(), v.end()); };
  metadata["tokens"] = std::to_string(s.tokens);
  std::vector<TensorSpec> specs = {
      {"head", DType::F32, {s.layers, s.heads}},
      {"kv_group", DType::F32, {s.layers, s.kvHeads}},
      {"intermediate", DType::F32, {s.layers, s.intermediate}},
      {"hidden", DType::F32, {s.hidden}},
      {"layer", DType::F32, {s.layers}},
  };
  auto writer = SafetensorsWriter::create(path, specs, metadata);
  if (!writer.ok())
    return writer.status();
  for (const auto *v : {&s.head, &s.kvGroup, &s.intermediateScores, &s.hiddenScores, &s.layer})
    SHEAR_RETURN_IF_ERROR((*writer)->writeF32(f32(*v)));
  return (*writer)->commit();
}
