#!/usr/bin/python3
"""check_layering.py SRC: the include rules between runtime and compiler."""
import pathlib
import re
import sys

src = pathlib.Path(sys.argv[1])
include = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
sources = lambda *dirs: [p for d in dirs for p in (src / d).rglob("*") if p.suffix in (".h", ".cpp", ".def")]

runtime = sources("runtime", "include/shear/Runtime", "include/shear/Support", "include/shear/Tokenizer",
                  "tools/common", "tools/shear-spm") + [
    src / "tools/shear-run/shear-run.cpp", src / "tools/shear-run/NoCompiler.cpp",
    src / "tools/shear-run/ModelCompiler.h"]
compiler = sources("lib", "include/shear/Dialect", "include/shear/Transforms",
                   "include/shear/Target", "include/shear/Pipelines")
bad_runtime, bad_compiler = [], []
for f in runtime:
    for inc in include.findall(f.read_text()):
        if inc.startswith(("llvm/", "mlir/", "llvm-c/")) or re.match(
                r"shear/(Dialect|Transforms|Target|Pipelines)/", inc):
            bad_runtime.append(f"{f.relative_to(src)}: includes {inc}")
for f in compiler:
    for inc in include.findall(f.read_text()):
        if inc.startswith(("shear/Runtime/", "shear/Tokenizer/")):
            bad_compiler.append(f"{f.relative_to(src)}: includes {inc}")
print(f"runtime: {len(runtime)} files, " + ("no LLVM, MLIR or compiler includes" if not bad_runtime else "VIOLATIONS"))
print(f"compiler: {len(compiler)} files, " + ("no runtime includes beyond shear/Support" if not bad_compiler else "VIOLATIONS"))
for b in bad_runtime + bad_compiler:
    print(b)
ok = not bad_runtime and not bad_compiler
print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
