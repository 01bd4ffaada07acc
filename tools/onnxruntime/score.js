// score.js MODEL PIXELS N OUT: runs an ONNX model that nettrain export wrote
// with onnxruntime-node on N images (PIXELS: N x 3 x 32 x 32 float32,
// little-endian) and writes the probabilities (N x C float32) to OUT.
// nettrain's tests run it; it is also the README's JavaScript example.
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, pixels, n, out] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model);
  const buf = fs.readFileSync(pixels);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const input = new ort.Tensor('float32', x, [Number(n), 3, 32, 32]);
  const result = await session.run({ pixels: input });
  const p = result.probabilities;
  fs.writeFileSync(out, Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength));
}

main().catch((err) => {
  console.error('score.js: ' + err.message);
  process.exit(1);
});
