//===- RewriteLaunches.cpp - a .cu file as C++ for the CUDA emulation ------===//
//
//   shear-rewrite-launches IN.cu OUT.cpp
//
// Writes IN with every kernel launch `kernel<<<grid, block, shared,
// stream>>>(args...)` (kernel possibly a template-id) as the C++
// `::shear_emu::Launch(grid, block, shared, stream).run([&](auto... a) {
// kernel(a...); }, args...)`, the one construct of CUDA C++ that is not
// C++: the arguments are evaluated once, and each device thread calls the
// kernel with its own copies of them (default arguments and conversions as
// in CUDA). After each `__shared__` declaration it registers the arrays
// declared (::shear_emu::sharedArray), which the emulation fills with 0xff
// bytes at the start of each block, as a GPU's shared memory starts
// unwritten. Nothing else changes; a #line directive keeps diagnostics
// pointing at IN. Exit 1 with the line of a launch it cannot take apart.
//
//===----------------------------------------------------------------------===//
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

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

/// `__shared__ T a[n], b[m];` followed by `::shear_emu::sharedArray(a,
/// sizeof a); ...` for each name declared (an identifier followed by `[`
/// outside brackets, or the last identifier of a scalar declaration).
std::string registerSharedArrays(const std::string &s) {
  std::string out;
  size_t done = 0;
  const std::string key = "__shared__";
  for (size_t at = s.find(key); at != std::string::npos; at = s.find(key, at + key.size())) {
    bool word = (at == 0 || !identChar(s[at - 1])) && (at + key.size() >= s.size() || !identChar(s[at + key.size()]));
    // Only declarations in function bodies (`#define __shared__` and the like are not).
    size_t semi = s.find(';', at);
    if (!word || semi == std::string::npos || s.find('\n', at) < s.find_first_not_of(" \t", at + key.size()))
      continue;
    std::string decl = s.substr(at + key.size(), semi - at - key.size());
    if (decl.find("extern") != std::string::npos || decl.find('=') != std::string::npos)
      continue;
    std::vector<std::string> names;
    int depth = 0;
    std::string last;
    for (size_t i = 0; i < decl.size(); ++i) {
      char c = decl[i];
      if (c == '[' || c == '(') {
        if (depth == 0 && c == '[' && !last.empty())
          names.push_back(last);
        ++depth;
      } else if (c == ']' || c == ')') {
        --depth;
      } else if (depth == 0 && (std::isalpha(static_cast<unsigned char>(c)) || c == '_')) {
        size_t j = i;
        while (j < decl.size() && identChar(decl[j]) && decl[j] != ':')
          ++j;
        last = decl.substr(i, j - i);
        i = j - 1;
        continue;
      }
      if (depth == 0 && !std::isspace(static_cast<unsigned char>(c)) && c != '[' && c != ']' && c != ',' &&
          c != '*')
        continue;
      if (c == ',')
        last.clear();
    }
    if (names.empty() && !last.empty())
      names.push_back(last);
    out += s.substr(done, semi + 1 - done);
    for (const std::string &n : names)
      out += " ::shear_emu::sharedArray(&" + n + ", sizeof " + n + ");";
    done = semi + 1;
  }
  return out + s.substr(done);
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
    size_t args = s.find_first_not_of(" \t\r\n", paren + 1);
    bool none = args == end;
    out += "::shear_emu::Launch(" + s.substr(open + 3, close - open - 3) + ").run([&](auto... shearArgs) { " +
           s.substr(name, open - name) + "(shearArgs...); }" + (none ? "" : ", ") +
           s.substr(paren + 1, end + 1 - (paren + 1));
    for (size_t i = close + 3; i < paren; ++i)
      if (s[i] == '\n')
        out += '\n';
    done = end + 1;
  }
  out += s.substr(done);
  out = registerSharedArrays(out);
  std::ofstream o(argv[2], std::ios::binary);
  o << out;
  if (!o) {
    std::cerr << "shear-rewrite-launches: cannot write " << argv[2] << "\n";
    return 2;
  }
  return 0;
}
