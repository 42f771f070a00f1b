#!/usr/bin/env node
// run_onnx.js MODEL.onnx TOKENS.npy LOGITS.npy: runs an exported model in
// onnxruntime (CPU) on an int token array [batch, seq] and writes the float32
// logits as .npy. A model in the decoder layout gets the whole sequence in
// one call: every position kept, positions 0.., an empty cache.
const fs = require('fs');
const ort = require('onnxruntime-node');

const { readNpy, writeNpy } = require('./npy.js');

(async () => {
  const [model, tokens, out] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model);
  const ids = readNpy(tokens);
  const feeds = { input_ids: new ort.Tensor('int64', ids.data, ids.shape) };
  if (session.inputNames.includes('attention_mask'))
    Object.assign(feeds, require('./decoder_feeds.js').fullSequence(ort, session, ids.data, ids.shape));
  const result = await session.run(feeds);
  const logits = result.logits;
  writeNpy(out, logits.data, logits.dims);
  console.log(`onnxruntime ${ort.env.versions ? ort.env.versions.common : ''}: logits [${logits.dims.join(', ')}]`);
})().catch(e => { console.error(e.message || e); process.exit(1); });
