#!/usr/bin/env bash
# Tokenization throughput (not a test), one core each, on the same text: a
# corpus of Python sources, licences and multilingual lines (~MB MB).
#  - HF tokenizer.json (a LLaMA-3-layout byte-level BPE trained here by
#    test/onnx/bpe_train.js): shear-spm (runtime/tokenizer) against
#    @huggingface/tokenizers (JS, what transformers.js runs), ids compared;
#  - SentencePiece (shear-data's trained model): shear-spm against
#    python3-sentencepiece (the same C++ library underneath);
#  - shear-data text end to end on the corpus as JSON lines (zstd) with 1 and
#    2 tokenizer threads.
# docs/benchmarks.md records the results.
#   bench/tokenize.sh [BUILD_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${1:-$ROOT/build}/bin" && pwd)
WORK=${BENCH_DIR:-/tmp/shear-bench-tokenize}
MB=${MB:-8}
MERGES=${MERGES:-4000}
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
export NODE_PATH="$ROOT/test/onnx/node_modules"

# The corpus: documents of about 4 KiB as files and as JSON lines.
/usr/bin/python3 - "$MB" "$ROOT" <<'PY'
import glob, json, os, sys
mb, root = int(sys.argv[1]), sys.argv[2]
torture = open(os.path.join(root, "test/Data/Inputs/tokenizer-torture.txt"), encoding="utf-8").read()
sources = sorted(glob.glob("/usr/lib/python3*/**/*.py", recursive=True)) + sorted(glob.glob("/usr/share/common-licenses/*"))
text, docs = [], []
for f in sources:
    try:
        t = open(f, encoding="utf-8").read()
    except (UnicodeDecodeError, IsADirectoryError):
        continue
    docs.append(t[:4096] + torture[: len(t) % 700])
    if sum(map(len, docs)) > mb * 1_000_000:
        break
open("corpus.txt", "w", encoding="utf-8").write("".join(docs))
os.makedirs("jsonl", exist_ok=True)
with open("jsonl/corpus.jsonl", "w", encoding="utf-8") as f:
    for d in docs:
        f.write(json.dumps({"text": d}) + "\n")
open("sample.txt", "w", encoding="utf-8").write("".join(docs)[:300_000])
print(f"corpus: {len(docs)} documents, {os.path.getsize('corpus.txt') / 1e6:.1f} MB")
PY
zstd -q --rm -3 jsonl/corpus.jsonl
BYTES=$(stat -c %s corpus.txt)

node "$ROOT/test/onnx/bpe_train.js" --style llama3 --merges "$MERGES" --out llama3 sample.txt 2>/dev/null
"$BIN/shear-data" text --seq 512 --vocab-size 8000 -o spm-data d=sample.txt > /dev/null

mbps() { /usr/bin/python3 -c "print(f'{$BYTES / 1e6 / $1:.2f}')"; }
now() { date +%s.%N; }
# shear: the process's time minus that of loading the tokenizer alone.
shear_seconds() {
  local t0 t1 t2
  t0=$(now); : | "$BIN/shear-spm" encode --model "$1" --whole 1 > /dev/null; t1=$(now)
  "$BIN/shear-spm" encode --model "$1" --whole 1 < corpus.txt > "$2"; t2=$(now)
  /usr/bin/python3 -c "print(($t2 - $t1) - ($t1 - $t0))"
}

echo "== HF tokenizer.json (LLaMA-3 layout, $(( MERGES + 261 )) tokens), one thread"
s=$(shear_seconds llama3/tokenizer.json shear.ids)
read -r jsids js < <(node "$ROOT/bench/tokenize_js.js" llama3 corpus.txt)
cmp -s shear.ids corpus.txt.js.ids && same="same ids" || same="DIFFERENT ids"
echo "shear-spm:               $(mbps "$s") MB/s ($(wc -w < shear.ids) tokens)"
echo "@huggingface/tokenizers: $(mbps "$js") MB/s ($jsids tokens; $same)"

echo "== SentencePiece BPE (8000 pieces), one thread"
s=$(shear_seconds spm-data/tokenizer.model spm.ids)
py=$(/usr/bin/python3 - <<'PY'
import time, sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file="spm-data/tokenizer.model")
text = open("corpus.txt", encoding="utf-8").read().replace("\n", "\u23ce")
sp.encode(text[:65536])
t = time.perf_counter(); ids = sp.encode(text); print(time.perf_counter() - t)
PY
)
echo "shear-spm:               $(mbps "$s") MB/s"
echo "python3-sentencepiece:   $(mbps "$py") MB/s"

for tok in llama3 spm-data/tokenizer.model; do
  echo "== shear-data text, JSON lines (zstd), documents of ~4 KiB, $tok"
  for th in 1 2; do
    t0=$(now)
    "$BIN/shear-data" text --seq 512 --threads $th --tokenizer $tok -o out$th d=jsonl > /dev/null
    t1=$(now)
    echo "--threads $th: $(mbps "$(/usr/bin/python3 -c "print($t1 - $t0)")") MB/s of text"
  done
  cmp -s out1/d.train.bin out2/d.train.bin && echo "same shards with 1 and 2 threads"
done
