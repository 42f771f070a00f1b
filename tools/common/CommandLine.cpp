//===- CommandLine.cpp - the command lines of shear's runtime tools -------===//
#include "CommandLine.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

using namespace shear;
using namespace shear::cli;

namespace {
std::string numberText(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}
} // namespace

Command::Option &Command::add(Option o) {
  o.group = group_;
  options_.push_back(std::move(o));
  return options_.back();
}

Command &Command::positional(const std::string &name, const std::string &help, std::string *out) {
  positionals_.push_back({name, help, out});
  return *this;
}

Command &Command::group(const std::string &title) {
  group_ = title;
  return *this;
}

Command &Command::option(const std::string &name, const std::string &valueName,
                         const std::string &help, std::string *out) {
  Option o{Option::String, name, valueName, help};
  o.out = out;
  o.defaultText = out->empty() ? "" : *out;
  add(o);
  return *this;
}

Command &Command::option(const std::string &name, const std::string &valueName,
                         const std::string &help, int64_t *out, int64_t min, int64_t max) {
  Option o{Option::Int, name, valueName, help};
  o.out = out;
  o.minI = min;
  o.maxI = max;
  o.defaultText = std::to_string(*out);
  add(o);
  return *this;
}

Command &Command::option(const std::string &name, const std::string &valueName,
                         const std::string &help, uint64_t *out) {
  Option o{Option::UInt, name, valueName, help};
  o.out = out;
  o.defaultText = std::to_string(*out);
  add(o);
  return *this;
}

Command &Command::option(const std::string &name, const std::string &valueName,
                         const std::string &help, double *out, double min, double max) {
  Option o{Option::Double, name, valueName, help};
  o.out = out;
  o.minD = min;
  o.maxD = max;
  o.defaultText = numberText(*out);
  add(o);
  return *this;
}

Command &Command::flag(const std::string &name, const std::string &help, bool *out) {
  Option o{Option::Flag, name, "", help};
  o.out = out;
  add(o);
  return *this;
}

Command &Command::defaultInHelp() {
  options_.back().defaultText.clear();
  return *this;
}

Command &Command::hidden() {
  options_.back().hidden = true;
  return *this;
}

bool Command::given(const std::string &name) const {
  for (const Option &o : options_)
    if (o.name == name)
      return o.given;
  return false;
}

Status Command::set(Option &o, const std::string &value) {
  auto bad = [&](const std::string &what) {
    return invalidInput("--" + o.name + ": " + what + ", got '" + value + "'");
  };
  char *end = nullptr;
  errno = 0;
  switch (o.kind) {
  case Option::String:
    *static_cast<std::string *>(o.out) = value;
    break;
  case Option::Int: {
    long long v = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end || errno)
      return bad("expected an integer");
    if (v < o.minI || v > o.maxI)
      return bad("must be " + (o.maxI == INT64_MAX ? "at least " + std::to_string(o.minI)
                                                   : "in [" + std::to_string(o.minI) + ", " +
                                                         std::to_string(o.maxI) + "]"));
    *static_cast<int64_t *>(o.out) = v;
    break;
  }
  case Option::UInt: {
    unsigned long long v = std::strtoull(value.c_str(), &end, 10);
    if (value.empty() || value[0] == '-' || *end || errno)
      return bad("expected a non-negative integer");
    *static_cast<uint64_t *>(o.out) = v;
    break;
  }
  case Option::Double: {
    double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end || errno || !std::isfinite(v))
      return bad("expected a number");
    if (v < o.minD || v > o.maxD)
      return bad("must be in [" + numberText(o.minD) + ", " + numberText(o.maxD) + "]");
    *static_cast<double *>(o.out) = v;
    break;
  }
  case Option::Flag:
    if (value == "true" || value == "1" || value.empty())
      *static_cast<bool *>(o.out) = true;
    else if (value == "false" || value == "0")
      *static_cast<bool *>(o.out) = false;
    else
      return bad("expected true or false");
    break;
  }
  o.given = true;
  return Status();
}

Status Command::parse(const std::vector<std::string> &args) {
  size_t nextPositional = 0;
  bool onlyPositionals = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    if (onlyPositionals || a.empty() || a[0] != '-' || a == "-") {
      if (nextPositional >= positionals_.size())
        return invalidInput(name_ + ": unexpected argument '" + a + "'");
      *positionals_[nextPositional++].out = a;
      continue;
    }
    if (a == "--") {
      onlyPositionals = true;
      continue;
    }
    std::string body = a.substr(a[1] == '-' ? 2 : 1), value;
    bool hasValue = false;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      value = body.substr(eq + 1);
      body.resize(eq);
      hasValue = true;
    }
    Option *o = nullptr;
    for (Option &candidate : options_)
      if (candidate.name == body)
        o = &candidate;
    if (!o)
      return invalidInput(name_ + ": unknown option '" + a + "' (see shear-run " + name_ +
                          " --help)");
    if (o->kind == Option::Flag) {
      SHEAR_RETURN_IF_ERROR(set(*o, value));
      continue;
    }
    if (!hasValue) {
      if (i + 1 >= args.size())
        return invalidInput("--" + o->name + " needs a value (" + o->valueName + ")");
      value = args[++i];
    }
    SHEAR_RETURN_IF_ERROR(set(*o, value));
  }
  if (nextPositional < positionals_.size())
    return invalidInput(name_ + ": missing " + positionals_[nextPositional].name + " (" +
                        positionals_[nextPositional].help + ")");
  return Status();
}

std::string Command::help(const std::string &tool) const {
  std::string out = tool + " " + name_ + ": " + summary_ + "\n\nusage: " + tool + " " + name_;
  for (const Positional &p : positionals_)
    out += " " + p.name;
  out += " [options]\n\n";
  for (const Positional &p : positionals_) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-24s %s\n", p.name.c_str(), p.help.c_str());
    out += buf;
  }
  std::string current = "\x01";
  for (const Option &o : options_) {
    if (o.hidden)
      continue;
    if (o.group != current) {
      current = o.group;
      out += "\n" + (current.empty() ? std::string("options") : current) + ":\n";
    }
    std::string spelled = "--" + o.name + (o.valueName.empty() ? "" : " " + o.valueName);
    std::string text = o.help;
    if (!o.defaultText.empty() && o.kind != Option::Flag)
      text += " (default: " + o.defaultText + ")";
    char buf[512];
    if (spelled.size() <= 24)
      std::snprintf(buf, sizeof buf, "  %-24s %s\n", spelled.c_str(), text.c_str());
    else
      std::snprintf(buf, sizeof buf, "  %s\n  %-24s %s\n", spelled.c_str(), "", text.c_str());
    out += buf;
  }
  return out;
}

Command &CommandLine::command(const std::string &name, const std::string &summary) {
  commands_.push_back(std::make_unique<Command>(name, summary));
  return *commands_.back();
}

std::string CommandLine::help() const {
  std::string out = tool_ + ": " + summary_ + "\n\nusage: " + tool_ + " COMMAND ... (" + tool_ +
                    " COMMAND --help for its options)\n\ncommands:\n";
  for (const auto &c : commands_) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-12s %s\n", c->name().c_str(), c->summary().c_str());
    out += buf;
  }
  return out;
}

Result<Command *> CommandLine::parse(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty())
    return invalidInput("give a command (" + tool_ + " --help lists them)");
  if (args[0] == "--help" || args[0] == "-help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(help().c_str(), stdout);
    return static_cast<Command *>(nullptr);
  }
  Command *command = nullptr;
  for (const auto &c : commands_)
    if (c->name() == args[0])
      command = c.get();
  if (!command)
    return invalidInput("unknown command '" + args[0] + "' (" + tool_ + " --help lists them)");
  args.erase(args.begin());
  for (const std::string &a : args)
    if (a == "--help" || a == "-help" || a == "-h") {
      std::fputs(command->help(tool_).c_str(), stdout);
      return static_cast<Command *>(nullptr);
    }
  Status parsed = command->parse(args);
  if (!parsed.ok())
    return parsed;
  return command;
}
