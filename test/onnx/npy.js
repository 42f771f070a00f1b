// .npy reading (int token arrays) and writing (float32) for the ONNX tests.
const fs = require('fs');

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

module.exports = { readNpy, writeNpy };
