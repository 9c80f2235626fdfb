/**
 * The onnxruntime-node peer, in its own process (it brings its own Dawn): plain forward
 * passes of an ONNX model with the WebGPU execution provider, timed after a warm-up.
 *
 *   node --import tsx bench/ort_run.ts MODEL.onnx BATCH C SIZE REPEATS [ep=webgpu]
 * prints JSON { seconds: [per batch], warmup, ep, logits0 }
 */
const [path, batchS, cS, sizeS, repeatsS, ep = 'webgpu'] = process.argv.slice(2);
const batch = Number(batchS), c = Number(cS), size = Number(sizeS), repeats = Number(repeatsS);
let ort: typeof import('onnxruntime-node');
try {
  ort = await import('onnxruntime-node');
} catch {
  console.log(JSON.stringify({ missing: 'onnxruntime-node is not installed (npm ci installs it as a devDependency)' }));
  process.exit(0);
}
const session = await ort.InferenceSession.create(path!, { executionProviders: [ep] });
const data = new Float32Array(batch * c * size * size);
for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37);
const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', data, [batch, c, size, size]) };
let t0 = performance.now();
const first = await session.run(feeds);
const warmup = (performance.now() - t0) / 1000;
const seconds: number[] = [];
for (let r = 0; r < repeats; r++) {
  t0 = performance.now();
  await session.run(feeds);
  seconds.push((performance.now() - t0) / 1000);
}
const logits = first[session.outputNames[0]!]!.data as Float32Array;
console.log(JSON.stringify({ seconds, warmup, ep, logits0: Array.from(logits.subarray(0, 4)) }));
await session.release();
process.exit(0);
