#!/usr/bin/env node
// bpe_encode.js DIR TEXT_FILE [--whole] [--special]
// Encodes TEXT_FILE with DIR/tokenizer.json + DIR/tokenizer_config.json through
// @huggingface/tokenizers (the JS port of HF tokenizers). The file's bytes are
// decoded with TextDecoder (invalid UTF-8 becomes U+FFFD by the WHATWG rules; a
// leading BOM is kept). Default: one output line of space-separated ids per
// input line ('\n'-separated, a final empty piece dropped; '\r' stays in the
// line); --whole: the whole text as one string, one line of ids. --special:
// add_special_tokens true (post-processor template), else false. stdout holds
// only the ids; stderr gets a decode(encode(x)) == x round-trip summary (with
// add_special_tokens false), and the exit status is 1 if any piece fails it.
const fs = require('fs');
const path = require('path');

(async () => {
  const args = process.argv.slice(2);
  const flags = new Set(args.filter(a => a.startsWith('--')));
  const [dir, textFile] = args.filter(a => !a.startsWith('--'));
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  const tokenizer = new Tokenizer(json, config);
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(fs.readFileSync(textFile));
  let pieces = [text];
  if (!flags.has('--whole')) {
    pieces = text.split('\n');
    if (pieces[pieces.length - 1] === '') pieces.pop();
  }
  const add_special_tokens = flags.has('--special');
  const out = [];
  let bad = 0;
  pieces.forEach((piece, i) => {
    out.push(tokenizer.encode(piece, { add_special_tokens }).ids.join(' '));
    const ids = tokenizer.encode(piece, { add_special_tokens: false }).ids;
    const back = ids.length ? tokenizer.decode(ids, { skip_special_tokens: false }) : '';
    if (back !== piece) {
      ++bad;
      console.error(`round trip failed, piece ${i + 1}: ${JSON.stringify(piece)} -> ${JSON.stringify(back)}`);
    }
  });
  process.stdout.write(out.map(l => l + '\n').join(''));
  console.error(`bpe_encode: ${pieces.length - bad}/${pieces.length} pieces round-trip`);
  if (bad) process.exitCode = 1;
})().catch(e => { console.error(e.message || e); process.exit(1); });
