#!/usr/bin/env node
// generate_onnx.js MODEL.onnx --prompt-ids A,B,C --new N [--eos E]: greedy
// generation in onnxruntime. A model in the decoder layout prefills the
// prompt and then decodes one token per call with its KV cache; a cache-less
// model (--no-kv-cache) computes the whole sequence again for every token.
// Prints the generated ids (as `shear-run generate --print-ids` does: up to
// and including E) and the speed, on stderr.
const ort = require('onnxruntime-node');
const { emptyCache, fullSequence } = require('./decoder_feeds.js');

function argmaxLast(logits) {
  const [, seq, vocab] = logits.dims;
  const row = logits.data.subarray((seq - 1) * vocab, seq * vocab);
  let best = 0;
  for (let i = 1; i < vocab; i++) if (row[i] > row[best]) best = i;
  return best;
}

(async () => {
  const args = process.argv.slice(2);
  const opt = n => { const i = args.indexOf(n); return i < 0 ? null : args[i + 1]; };
  const prompt = opt('--prompt-ids').split(',').map(Number);
  const maxNew = Number(opt('--new')), eos = opt('--eos') === null ? -1 : Number(opt('--eos'));
  const session = await ort.InferenceSession.create(args[0]);
  const cached = session.inputNames.includes('attention_mask');
  const ids = [...prompt], out = [];
  const t0 = process.hrtime.bigint();
  let past = cached ? emptyCache(ort, session, 1) : null;
  let fresh = prompt.length; // tokens not yet seen by the model
  for (let step = 0; step < maxNew; step++) {
    let logits;
    if (cached) {
      const start = ids.length - fresh;
      const feeds = Object.assign({
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.slice(start), BigInt), [1, fresh]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from(
          Array.from({ length: fresh }, (_, i) => start + i), BigInt), [1, fresh]),
      }, past);
      const r = await session.run(feeds);
      logits = r.logits;
      past = {};
      for (const name of Object.keys(r))
        if (name.startsWith('present.')) past['past_key_values.' + name.slice(8)] = r[name];
    } else {
      const all = BigInt64Array.from(ids, BigInt);
      const r = await session.run({ input_ids: new ort.Tensor('int64', all, [1, ids.length]) });
      logits = r.logits;
    }
    const next = argmaxLast(logits);
    out.push(next);
    if (next === eos) break;
    ids.push(next);
    fresh = 1;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log('ids: ' + out.join(' '));
  console.error(`[${out.length} tokens in ${seconds.toFixed(3)} s: ${(out.length / seconds).toFixed(1)} ` +
                `tokens/s, ${cached ? 'KV cache' : 'no cache'}]`);
})().catch(e => { console.error(e.message || e); process.exit(1); });
