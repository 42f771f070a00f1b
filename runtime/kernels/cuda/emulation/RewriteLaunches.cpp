//===- RewriteLaunches.cpp - a .cu file as C++ for the CUDA emulation ------===//
//
//   shear-rewrite-launches IN.cu OUT.cpp
//
// Writes IN with every kernel launch `kernel<<<grid, block, shared,
// stream>>>(args...)` (kernel possibly a template-id) as the C++
// `::shear_emu::Launch(grid, block, shared, stream).run([&] { kernel(args...); })`,
// the one construct of CUDA C++ that is not C++: each device thread calls
// the kernel as written (default arguments and conversions as in CUDA),
// with its own copies of the parameters. Nothing else changes; a
// #line directive keeps diagnostics pointing at IN. Exit 1 with the line
// of a launch it cannot take apart.
//
//===----------------------------------------------------------------------===//
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

int lineOf(const std::string &s, size_t at) {
  int line = 1;
  for (size_t i = 0; i < at && i < s.size(); ++i)
    line += s[i] == '\n';
  return line;
}

bool identChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }

/// The start of the kernel's name ending just before `end` (an identifier,
/// possibly qualified, possibly followed by <template arguments>), or npos.
size_t nameStart(const std::string &s, size_t end) {
  size_t i = end;
  while (i > 0 && std::isspace(static_cast<unsigned char>(s[i - 1])))
    --i;
  if (i > 0 && s[i - 1] == '>') {
    int depth = 0;
    while (i > 0) {
      char c = s[--i];
      if (c == '>')
        ++depth;
      else if (c == '<' && --depth == 0)
        break;
      else if (c == ';' || c == '{' || c == '}')
        return std::string::npos;
    }
    if (depth != 0)
      return std::string::npos;
    while (i > 0 && std::isspace(static_cast<unsigned char>(s[i - 1])))
      --i;
  }
  size_t stop = i;
  while (i > 0 && identChar(s[i - 1]))
    --i;
  return i == stop ? std::string::npos : i;
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::cerr << "usage: shear-rewrite-launches IN.cu OUT.cpp\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << "shear-rewrite-launches: cannot read " << argv[1] << "\n";
    return 2;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string s = buffer.str(), out = "#line 1 \"" + std::string(argv[1]) + "\"\n";
  size_t done = 0;
  for (size_t open = s.find("<<<"); open != std::string::npos; open = s.find("<<<", done)) {
    size_t name = nameStart(s, open), close = s.find(">>>", open);
    size_t paren = close == std::string::npos ? close : s.find_first_not_of(" \t\r\n", close + 3);
    if (name == std::string::npos || name < done || paren == std::string::npos || s[paren] != '(') {
      std::cerr << argv[1] << ":" << lineOf(s, open) << ": a kernel launch the emulation cannot rewrite\n";
      return 1;
    }
    // The argument list's closing parenthesis.
    size_t end = paren;
    for (int depth = 0; end < s.size(); ++end) {
      if (s[end] == '(')
        ++depth;
      else if (s[end] == ')' && --depth == 0)
        break;
    }
    if (end == s.size()) {
      std::cerr << argv[1] << ":" << lineOf(s, open) << ": a kernel launch without the end of its arguments\n";
      return 1;
    }
    out += s.substr(done, name - done);
    out += "::shear_emu::Launch(" + s.substr(open + 3, close - open - 3) + ").run([&] { " +
           s.substr(name, open - name) + s.substr(close + 3, end + 1 - (close + 3)) + "; })";
    done = end + 1;
  }
  out += s.substr(done);
  std::ofstream o(argv[2], std::ios::binary);
  o << out;
  if (!o) {
    std::cerr << "shear-rewrite-launches: cannot write " << argv[2] << "\n";
    return 2;
  }
  return 0;
}
