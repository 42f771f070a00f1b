#!/usr/bin/env node
// run_onnx.js MODEL.onnx TOKENS.npy LOGITS.npy: runs an exported model in
// onnxruntime (CPU) on an int token array [batch, seq] and writes the float32
// logits as .npy.
const fs = require('fs');
const ort = require('onnxruntime-node');

function readNpy(path) {
  const buf = fs.readFileSync(path);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter(s => s.trim()).map(Number);
  const data = buf.subarray(10 + headerLen);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    if (descr === '<i8') out[i] = data.readBigInt64LE(i * 8);
    else if (descr === '<i4') out[i] = BigInt(data.readInt32LE(i * 4));
    else throw new Error(`${path}: unsupported dtype ${descr}`);
  }
  return { data: out, shape };
}

function writeNpy(path, array, shape) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64) header += ' ';
  header += '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'),
    Buffer.from(array.buffer, array.byteOffset, array.byteLength)]));
}

(async () => {
  const [model, tokens, out] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model);
  const ids = readNpy(tokens);
  const result = await session.run({ input_ids: new ort.Tensor('int64', ids.data, ids.shape) });
  const logits = result.logits;
  writeNpy(out, logits.data, logits.dims);
  console.log(`onnxruntime ${ort.env.versions ? ort.env.versions.common : ''}: logits [${logits.dims.join(', ')}]`);
})().catch(e => { console.error(e.message || e); process.exit(1); });
