// Inputs of a model in the decoder layout (input_ids, attention_mask,
// position_ids, past_key_values.<i>.key/.value) for onnxruntime-node.

// The kv heads and head dim of the cache, from the model's declared inputs.
function cacheDims(session) {
  const name = session.inputNames.find(n => n.startsWith('past_key_values.'));
  const meta = session.inputMetadata.find ? session.inputMetadata.find(m => m.name === name)
                                          : session.inputMetadata[name];
  const shape = meta.shape;
  return { heads: Number(shape[1]), headDim: Number(shape[3]) };
}

function emptyCache(ort, session, batch) {
  const { heads, headDim } = cacheDims(session);
  const feeds = {};
  for (const n of session.inputNames)
    if (n.startsWith('past_key_values.'))
      feeds[n] = new ort.Tensor('float32', new Float32Array(0), [batch, heads, 0, headDim]);
  return feeds;
}

// The whole sequence at once: every position kept, positions 0 .. seq-1.
function fullSequence(ort, session, ids, shape) {
  const [batch, seq] = shape;
  const mask = new BigInt64Array(batch * seq).fill(1n);
  const pos = new BigInt64Array(batch * seq);
  for (let b = 0; b < batch; b++)
    for (let s = 0; s < seq; s++) pos[b * seq + s] = BigInt(s);
  return Object.assign({ attention_mask: new ort.Tensor('int64', mask, [batch, seq]),
                         position_ids: new ort.Tensor('int64', pos, [batch, seq]) },
                       emptyCache(ort, session, batch));
}

module.exports = { cacheDims, emptyCache, fullSequence };
