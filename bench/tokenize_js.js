#!/usr/bin/env node
// tokenize_js.js DIR TEXT_FILE: times @huggingface/tokenizers (the JS port of
// HF tokenizers) encoding the whole file once (after one warm-up run on its
// first 64 KiB); prints "ids SECONDS" (bench/tokenize.sh).
const fs = require('fs');
const path = require('path');
(async () => {
  const [dir, file] = process.argv.slice(2);
  // The package lives in test/onnx/node_modules (scripts/setup.sh).
  const where = require.resolve('@huggingface/tokenizers', { paths: [path.join(__dirname, '..', 'test', 'onnx')] });
  const { Tokenizer } = require(where);
  const t = new Tokenizer(JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')),
                          JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')));
  const text = new TextDecoder('utf-8').decode(fs.readFileSync(file));
  t.encode(text.slice(0, 65536), { add_special_tokens: false });
  const start = process.hrtime.bigint();
  const ids = t.encode(text, { add_special_tokens: false }).ids;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  fs.writeFileSync(file + '.js.ids', ids.join(' ') + '\n');
  console.log(`${ids.length} ${seconds}`);
})().catch(e => { console.error(e.message || e); process.exit(1); });
