//===- CommandLine.h - the command lines of shear's runtime tools ---------===//
//
// A small parser without LLVM (so a runtime-only shear-run has one): a tool
// has commands, each with positional arguments and options in groups.
// `--name value`, `--name=value` and `-name` spellings; numbers are parsed
// strictly and range-checked; anything unknown or malformed is a usage
// error (exit code 2). `--help` prints the command's own options with their
// defaults, nothing else.
//
//===----------------------------------------------------------------------===//
#ifndef SHEAR_TOOLS_COMMANDLINE_H
#define SHEAR_TOOLS_COMMANDLINE_H

#include "shear/Support/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace shear::cli {

class Command {
public:
  Command(std::string name, std::string summary) : name_(std::move(name)), summary_(std::move(summary)) {}

  Command &positional(const std::string &name, const std::string &help, std::string *out);
  /// Options of the next calls are listed under `title` in --help.
  Command &group(const std::string &title);
  Command &option(const std::string &name, const std::string &valueName, const std::string &help,
                  std::string *out);
  Command &option(const std::string &name, const std::string &valueName, const std::string &help,
                  int64_t *out, int64_t min = INT64_MIN, int64_t max = INT64_MAX);
  Command &option(const std::string &name, const std::string &valueName, const std::string &help,
                  uint64_t *out);
  Command &option(const std::string &name, const std::string &valueName, const std::string &help,
                  double *out, double min = -1e300, double max = 1e300);
  Command &flag(const std::string &name, const std::string &help, bool *out);
  /// The last option defined is left out of --help (testing hooks).
  Command &hidden();
  /// The last option's help says its default itself.
  Command &defaultInHelp();

  const std::string &name() const { return name_; }
  const std::string &summary() const { return summary_; }
  /// Whether the user gave option `name`.
  bool given(const std::string &name) const;
  std::string help(const std::string &tool) const;
  Status parse(const std::vector<std::string> &args);

private:
  struct Option {
    enum Kind { String, Int, UInt, Double, Flag } kind;
    std::string name, valueName, help, group, defaultText;
    void *out = nullptr;
    int64_t minI = INT64_MIN, maxI = INT64_MAX;
    double minD = -1e300, maxD = 1e300;
    bool hidden = false, given = false;
  };
  struct Positional {
    std::string name, help;
    std::string *out;
  };
  Option &add(Option o);
  Status set(Option &o, const std::string &value);

  std::string name_, summary_, group_;
  std::vector<Option> options_;
  std::vector<Positional> positionals_;
};

class CommandLine {
public:
  CommandLine(std::string tool, std::string summary) : tool_(std::move(tool)), summary_(std::move(summary)) {}
  Command &command(const std::string &name, const std::string &summary);
  /// The command to run, or nullptr when help was printed (exit 0). Usage
  /// errors are InvalidInput.
  Result<Command *> parse(int argc, char **argv);
  std::string help() const;

private:
  std::string tool_, summary_;
  std::vector<std::unique_ptr<Command>> commands_;
};

} // namespace shear::cli

#endif
