#!/usr/bin/env node
// bpe_decode.js DIR < IDS
// Reads lines of space-separated token ids on stdin and decodes each with
// DIR/tokenizer.json + DIR/tokenizer_config.json through @huggingface/tokenizers
// (skip_special_tokens false); prints each decoded text as a JSON string, one
// per line (an empty line of ids prints "").
const fs = require('fs');
const path = require('path');

(async () => {
  const [dir] = process.argv.slice(2);
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  const tokenizer = new Tokenizer(json, config);
  const lines = fs.readFileSync(0, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const out = lines.map(line => {
    const ids = line.trim() ? line.trim().split(/\s+/).map(Number) : [];
    return JSON.stringify(ids.length ? tokenizer.decode(ids, { skip_special_tokens: false }) : '');
  });
  process.stdout.write(out.map(l => l + '\n').join(''));
})().catch(e => { console.error(e.message || e); process.exit(1); });
