#!/usr/bin/env node
// tokenize.js DIR TEXT_FILE: encodes the file's text with DIR/tokenizer.json
// and DIR/tokenizer_config.json through @huggingface/tokenizers (the JS port
// of HF tokenizers that transformers.js uses), without special tokens; prints
// the ids on the first line and the decoded text, as JSON, on the second.
const fs = require('fs');
const path = require('path');

(async () => {
  const [dir, textFile] = process.argv.slice(2);
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  const tokenizer = new Tokenizer(json, config);
  const text = fs.readFileSync(textFile, 'utf8');
  const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
  console.log(ids.join(' '));
  console.log(JSON.stringify(tokenizer.decode(ids, { skip_special_tokens: true })));
})().catch(e => { console.error(e.message || e); process.exit(1); });
