#!/usr/bin/env node
// bpe_train.js --style gpt2|llama3 --merges N --out DIR CORPUS_FILE
// Trains a small byte-level BPE tokenizer on CORPUS_FILE (UTF-8) in plain JS,
// independent of the project's code, and writes DIR/tokenizer.json and
// DIR/tokenizer_config.json in the HF format: GPT-2 layout (ByteLevel
// pre-tokenizer, merges as "a b" strings) or Meta-Llama-3 layout (Split regex +
// ByteLevel, ignore_merges, TemplateProcessing adding <|begin_of_text|>, merges
// as ["a","b"] arrays). Vocabulary: ids 0..255 are the bytes (through GPT-2's
// bytes_to_unicode table), then one id per merge in order (a merge whose result
// already exists reuses that id, as HF's trainer does), then the special tokens.
// Training: words from the style's pre-tokenizer regex; N times merge the most
// frequent adjacent pair, ties broken by the lexicographically smallest pair.
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const opt = { style: 'gpt2', merges: 800, out: null };
const files = [];
for (let i = 0; i < args.length; ++i) {
  if (args[i].startsWith('--')) opt[args[i].slice(2)] = args[++i];
  else files.push(args[i]);
}
if (!opt.out || files.length !== 1 || !['gpt2', 'llama3'].includes(opt.style)) {
  console.error('usage: bpe_train.js --style gpt2|llama3 --merges N --out DIR CORPUS_FILE');
  process.exit(2);
}
const llama3 = opt.style === 'llama3';
const numMerges = parseInt(opt.merges, 10);

// GPT-2 bytes_to_unicode: printable bytes map to themselves, the rest to U+0100...
const byteChar = [];
for (let b = 0, n = 0; b < 256; ++b) {
  const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
  byteChar.push(String.fromCharCode(printable ? b : 256 + n++));
}

// The pre-tokenizer regexes. Llama-3's (?i:...) group is expanded by hand and
// \s is Unicode White_Space as in Oniguruma; GPT-2's is the exact JS regex of
// the ByteLevel pre-tokenizer (JS \s).
const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const re = llama3
  ? /'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\p{White_Space}\p{L}\p{N}]+[\r\n]*|\p{White_Space}*[\r\n]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu
  : /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const t0 = Date.now();
const text = fs.readFileSync(files[0], 'utf8');
const wordCount = new Map();
const encoder = new TextEncoder();
for (const m of text.matchAll(re)) {
  const w = Array.from(encoder.encode(m[0]), b => byteChar[b]).join('');
  wordCount.set(w, (wordCount.get(w) || 0) + 1);
}
const words = [...wordCount.keys()].map(w => Array.from(w));
const counts = [...wordCount.values()];

// Pair statistics; a pair's key is "a b" (a space never occurs in a byte-level
// token and sorts below all of them, so key order is pair order).
const pairCount = new Map();
const pairWords = new Map();
const addPairs = (i, sign) => {
  const w = words[i];
  for (let j = 0; j + 1 < w.length; ++j) {
    const k = w[j] + ' ' + w[j + 1];
    const c = (pairCount.get(k) || 0) + sign * counts[i];
    if (c === 0) pairCount.delete(k); else pairCount.set(k, c);
    if (sign > 0) {
      if (!pairWords.has(k)) pairWords.set(k, new Set());
      pairWords.get(k).add(i);
    }
  }
};
words.forEach((_, i) => addPairs(i, 1));

const vocab = new Map(byteChar.map((c, i) => [c, i]));
const merges = [];
for (let n = 0; n < numMerges; ++n) {
  let best = null, bestCount = 0;
  for (const [k, c] of pairCount) {
    if (c > bestCount || (c === bestCount && k < best)) { best = k; bestCount = c; }
  }
  if (best === null) { console.error(`bpe_train: only ${n} merges possible`); break; }
  const [a, b] = best.split(' ');
  merges.push([a, b]);
  if (!vocab.has(a + b)) vocab.set(a + b, vocab.size);
  for (const i of pairWords.get(best)) {
    const w = words[i];
    addPairs(i, -1);
    const out = [];
    for (let j = 0; j < w.length; ++j) {
      if (j + 1 < w.length && w[j] === a && w[j + 1] === b) { out.push(a + b); ++j; } else out.push(w[j]);
    }
    words[i] = out;
    addPairs(i, 1);
  }
  pairWords.delete(best);
}

const specials = ['<|begin_of_text|>', '<|end_of_text|>'];
if (llama3) specials.push('<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>');
const specialId = {};
for (const s of specials) { specialId[s] = vocab.size; vocab.set(s, vocab.size); }

const byteLevel = (prefix, trim, useRegex) =>
  ({ type: 'ByteLevel', add_prefix_space: prefix, trim_offsets: trim, use_regex: useRegex });
const bos = '<|begin_of_text|>';
const tokenizer = {
  version: '1.0',
  truncation: null,
  padding: null,
  added_tokens: specials.map(s => ({ id: specialId[s], content: s, single_word: false, lstrip: false,
                                    rstrip: false, normalized: false, special: true })),
  normalizer: null,
  pre_tokenizer: llama3
    ? { type: 'Sequence', pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_REGEX }, behavior: 'Isolated', invert: false },
        byteLevel(false, true, false)] }
    : byteLevel(false, true, true),
  post_processor: llama3
    ? { type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
               { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { [bos]: { id: bos, ids: [specialId[bos]], tokens: [bos] } } }
    : byteLevel(true, false, true),
  decoder: byteLevel(true, true, true),
  model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
           end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: llama3,
           vocab: '@VOCAB@', merges: '@MERGES@' },
};
// vocab and merges are written by hand: one entry per line, vocab in id order
// (JSON.stringify would put integer-like keys such as "12" first).
const vocabJson = '{\n' + [...vocab].map(([t, i]) => `      ${JSON.stringify(t)}: ${i}`).join(',\n') + '\n    }';
const mergesJson = '[\n' + merges.map(([a, b]) =>
  '      ' + JSON.stringify(llama3 ? [a, b] : a + ' ' + b)).join(',\n') + '\n    ]';
const json = JSON.stringify(tokenizer, null, 2)
  .replace('"@VOCAB@"', () => vocabJson).replace('"@MERGES@"', () => mergesJson);
const config = {
  bos_token: bos, eos_token: '<|end_of_text|>', add_bos_token: true, add_eos_token: false,
  clean_up_tokenization_spaces: false, model_max_length: 8192, tokenizer_class: 'PreTrainedTokenizerFast',
};
fs.mkdirSync(opt.out, { recursive: true });
fs.writeFileSync(path.join(opt.out, 'tokenizer.json'), json + '\n');
fs.writeFileSync(path.join(opt.out, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
console.error(`bpe_train: ${opt.style}, ${wordCount.size} distinct words, ${merges.length} merges, ` +
              `vocab ${vocab.size} (specials included), ${Date.now() - t0} ms`);
