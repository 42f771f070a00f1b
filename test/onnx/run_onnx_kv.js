#!/usr/bin/env node
// run_onnx_kv.js MODEL.onnx TOKENS.npy LOGITS.npy --prefill K [--left-pad N]:
// runs a model exported in the decoder layout the way a server does:
// prefill the first K tokens of every row with an empty cache, then one
// token per call, feeding back `present` as `past_key_values`; writes the
// logits of every position [batch, seq, vocab] (for comparison with the
// cache-less graph or shear-run eval on the whole sequence).
// --left-pad N also runs a batch whose second row is its first N tokens
// shorter and left-padded (attention_mask 0, positions counted from its first
// real token) and checks that row's logits against that row run alone.
const ort = require('onnxruntime-node');
const { readNpy, writeNpy } = require('./npy.js');
const { emptyCache, fullSequence } = require('./decoder_feeds.js');

function tensor(type, data, dims) { return new ort.Tensor(type, data, dims); }

// Prefill `k` tokens, then decode the rest one at a time.
// rows: BigInt64Array [batch * seq]; mask0/pos0: the per-row attention mask
// and positions of the whole sequence.
async function runCached(session, ids, batch, seq, k, mask, pos) {
  let vocab = 0, out = null;
  let past = emptyCache(ort, session, batch);
  for (let start = 0; start < seq; ) {
    const len = start === 0 ? k : 1;
    const take = (arr, from, n, stride) => {
      const r = new BigInt64Array(batch * n);
      for (let b = 0; b < batch; b++)
        for (let i = 0; i < n; i++) r[b * n + i] = arr[b * stride + from + i];
      return r;
    };
    const feeds = Object.assign({
      input_ids: tensor('int64', take(ids, start, len, seq), [batch, len]),
      attention_mask: tensor('int64', take(mask, 0, start + len, seq), [batch, start + len]),
      position_ids: tensor('int64', take(pos, start, len, seq), [batch, len]),
    }, past);
    const r = await session.run(feeds);
    vocab = r.logits.dims[2];
    if (!out) out = new Float32Array(batch * seq * vocab);
    for (let b = 0; b < batch; b++)
      for (let i = 0; i < len; i++)
        out.set(r.logits.data.subarray((b * len + i) * vocab, (b * len + i + 1) * vocab),
                (b * seq + start + i) * vocab);
    past = {};
    for (const name of Object.keys(r))
      if (name.startsWith('present.'))
        past['past_key_values.' + name.slice('present.'.length)] = r[name];
    start += len;
  }
  return { logits: out, vocab };
}

function relativeError(a, b) {
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

(async () => {
  const args = process.argv.slice(2);
  const [model, tokens, outPath] = args;
  const opt = n => { const i = args.indexOf(n); return i < 0 ? null : Number(args[i + 1]); };
  const k = opt('--prefill'), pad = opt('--left-pad');
  const session = await ort.InferenceSession.create(model);
  const ids = readNpy(tokens);
  const [batch, seq] = ids.shape;
  if (!(k >= 1 && k <= seq)) throw new Error(`--prefill must be in [1, ${seq}]`);
  const ones = new BigInt64Array(batch * seq).fill(1n);
  const pos = new BigInt64Array(batch * seq);
  for (let b = 0; b < batch; b++) for (let s = 0; s < seq; s++) pos[b * seq + s] = BigInt(s);
  const { logits, vocab } = await runCached(session, ids.data, batch, seq, k, ones, pos);
  writeNpy(outPath, logits, [batch, seq, vocab]);
  console.log(`prefill ${k} + ${seq - k} decode steps: logits [${batch}, ${seq}, ${vocab}]`);

  if (pad !== null) {
    // Row 0 whole; row 1: N pad tokens, then its own first seq - N tokens.
    const padded = new BigInt64Array(2 * seq), mask = new BigInt64Array(2 * seq);
    const ppos = new BigInt64Array(2 * seq);
    for (let s = 0; s < seq; s++) {
      padded[s] = ids.data[s]; mask[s] = 1n; ppos[s] = BigInt(s);
      const real = s >= pad;
      padded[seq + s] = real ? ids.data[seq + s - pad] : 0n;
      mask[seq + s] = real ? 1n : 0n;
      ppos[seq + s] = real ? BigInt(s - pad) : 0n;
    }
    const both = await runCached(session, padded, 2, seq, k, mask, ppos);
    // Row 1 alone, unpadded, on the whole sequence at once.
    const alone = new BigInt64Array(seq - pad);
    for (let s = 0; s < seq - pad; s++) alone[s] = ids.data[seq + s];
    const ref = await session.run(Object.assign(
      { input_ids: tensor('int64', alone, [1, seq - pad]) },
      fullSequence(ort, session, alone, [1, seq - pad])));
    const got = both.logits.subarray((seq + pad) * vocab, 2 * seq * vocab);
    const err = relativeError(got, ref.logits.data);
    let finite = true;
    for (const v of both.logits) finite = finite && Number.isFinite(v);
    console.log(`left padding ${pad}: relative error ${err.toExponential(3)} against the row alone; ` +
                `${finite ? 'every logit finite' : 'NON-FINITE logits'}`);
    if (!(err <= 1e-4) || !finite) process.exit(1);
  }
})().catch(e => { console.error(e.message || e); process.exit(1); });
