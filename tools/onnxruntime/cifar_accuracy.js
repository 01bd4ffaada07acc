// node cifar_accuracy.js MODEL.onnx test_batch.bin: the accuracy of a model
// that nettrain export wrote, run by onnxruntime on a CIFAR-10 binary batch.
const fs = require('fs');
const ort = require('onnxruntime-node');

(async () => {
  const [model, batch] = process.argv.slice(2);
  const raw = fs.readFileSync(batch); // records of a label byte and 3072 pixel bytes
  const n = raw.length / 3073;
  const x = new Float32Array(n * 3072);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = raw[i * 3073];
    for (let j = 0; j < 3072; j++) x[i * 3072 + j] = raw[i * 3073 + 1 + j];
  }
  const session = await ort.InferenceSession.create(model);
  const { probabilities } = await session.run({ pixels: new ort.Tensor('float32', x, [n, 3, 32, 32]) });
  const c = probabilities.dims[1];
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const p = probabilities.data.subarray(i * c, (i + 1) * c);
    if (p.indexOf(Math.max(...p)) === y[i]) correct++;
  }
  console.log(`accuracy ${(correct / n).toFixed(4)} on ${n} images`);
})();
