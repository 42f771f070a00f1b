//===- OptimizerShards.h - which rank updates which parameter -------------===//
//
// With --shard-optimizer (ZeRO stage 1) every parameter is updated by one
// rank only, its owner, which alone holds the parameter's AdamW moments and
// then broadcasts the updated parameter (and its working copy) to the
// others. Parameters are dealt out largest first to the least loaded rank,
// so each rank holds about 1/N of the optimizer state. The assignment
// depends only on the program and the number of ranks: every rank computes
// the same one.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_RUNTIME_TRAIN_OPTIMIZERSHARDS_H
#define SHEAR_RUNTIME_TRAIN_OPTIMIZERSHARDS_H

#include "shear/Support/Program.h"
#include "shear/Support/Status.h"

#include <map>
#include <string>
#include <vector>

namespace shear::rt {

struct OptimizerShards {
  int rank = 0, ranks = 1;
  /// Parameter name -> the rank that updates it (every adamw of the step).
  std::map<std::string, int> owner;
  /// Per instruction of the step: left out on this rank (other ranks'
  /// updates and the reads of their moments).
  std::vector<bool> skip;
  /// Elements of optimizer state (m and v) this rank holds.
  int64_t ownedStateElements = 0, stateElements = 0;

  /// Whether this rank holds the tensor named `name` after a step: a
  /// parameter's moments only on its owner, everything else everywhere (the
  /// owner broadcasts the parameters).
  bool holds(const std::string &name) const;
  /// Whether this rank computes the update of parameter `name` (of a
  /// working copy "work:P": of P).
  bool updates(const std::string &name) const;
};

/// The shards of `step` (a train_step) over `ranks` ranks, seen from `rank`.
/// With one rank (or unsharded) every instruction runs and rank 0 owns all.
Result<OptimizerShards> shardOptimizer(const ProgramFile &program, const ProgramFunction &step,
                                       int rank, int ranks);

/// "adam.m:P" -> "P"; other names -> "".
std::string momentOwnerName(const std::string &name);

} // namespace shear::rt

#endif
