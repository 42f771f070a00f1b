//===- OptimizerShards.cpp - which rank updates which parameter -----------===//
#include "OptimizerShards.h"

#include <algorithm>

using namespace shear;
using namespace shear::rt;

std::string shear::rt::momentOwnerName(const std::string &name) {
  for (const char *prefix : {"adam.m:", "adam.v:"})
    if (name.rfind(prefix, 0) == 0)
      return name.substr(7);
  return "";
}

bool OptimizerShards::updates(const std::string &name) const {
  // A working copy is written by its master's update.
  std::string master = workingCopyOf(name);
  auto it = owner.find(master.empty() ? name : master);
  return it == owner.end() || it->second == rank;
}

bool OptimizerShards::holds(const std::string &name) const {
  std::string param = momentOwnerName(name);
  return param.empty() || updates(param);
}

Result<OptimizerShards> shear::rt::shardOptimizer(const ProgramFile &program,
                                                  const ProgramFunction &step, int rank,
                                                  int ranks) {
  OptimizerShards s;
  s.rank = rank;
  s.ranks = ranks;
  s.skip.assign(step.body.size(), false);
  // Which weight instruction defines each value, and who reads it.
  std::vector<int> definedBy(step.values.size(), -1), readers(step.values.size(), 0);
  for (size_t i = 0; i < step.body.size(); ++i) {
    const ProgramInstr &in = step.body[i];
    if (in.kind == ProgramInstr::Kind::Weight)
      definedBy[in.results[0]] = static_cast<int>(i);
    for (int v : in.operands)
      if (v >= 0)
        ++readers[v];
  }
  auto weightName = [&](int value) -> const std::string * {
    int def = value >= 0 ? definedBy[value] : -1;
    return def < 0 ? nullptr : &program.weights[step.body[def].weight].name;
  };

  // adamw(param, grad, m, v, norm, lr, step): one per parameter.
  struct Update {
    size_t instr;
    std::string param;
    int64_t elements;
  };
  std::vector<Update> all;
  for (size_t i = 0; i < step.body.size(); ++i) {
    const ProgramInstr &in = step.body[i];
    if (in.kind != ProgramInstr::Kind::Kernel || in.kernel != KernelId::AdamW)
      continue;
    const std::string *param = weightName(in.operands[0]);
    const std::string *m = weightName(in.operands[2]), *v = weightName(in.operands[3]);
    if (!param || !m || !v || momentOwnerName(*m) != *param || momentOwnerName(*v) != *param)
      return internalError("train_step instruction " + std::to_string(i) +
                           ": an adamw whose parameter and moments are not weights of the program");
    all.push_back({i, *param, numElements(step.values[in.operands[0]].shape)});
    s.stateElements += 2 * all.back().elements;
  }
  std::sort(all.begin(), all.end(), [](const Update &a, const Update &b) {
    return a.elements != b.elements ? a.elements > b.elements : a.param < b.param;
  });
  std::vector<int64_t> load(static_cast<size_t>(ranks), 0);
  for (const Update &u : all) {
    int least = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    load[least] += u.elements;
    s.owner[u.param] = least;
    if (least == rank) {
      s.ownedStateElements += 2 * u.elements;
      continue;
    }
    const ProgramInstr &in = step.body[u.instr];
    s.skip[u.instr] = true;
    // The moments' reads go too when nothing else reads them.
    for (int slot : {2, 3})
      if (readers[in.operands[slot]] == 1)
        s.skip[definedBy[in.operands[slot]]] = true;
  }
  return s;
}
