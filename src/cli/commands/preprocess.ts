/**
 * `coar preprocess`: image files to the float32 [n, 3, H, W] tensor and int64 labels a sweep
 * would use, as .npy — the contract the tests check against torchvision and OpenCV.
 */
import type { CommandModule } from 'yargs';
import { imageSpec, loadImageExamples } from '../../coar/examples.js';
import { parseIndices } from '../../coar/indices.js';
import { check } from '../../errors.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { npyHeaderBytes, writeNpy } from '../../io/npy.js';
import { imageOptions, parseImageSource, preprocessingFrom, type ImageArgs } from '../image_options.js';
import { progressBar } from '../progress.js';

interface Args extends ImageArgs { data: string; examples?: number; indices?: string; out: string; 'labels-out': string; quiet?: boolean }

export const preprocess: CommandModule<{}, Args> = {
  command: 'preprocess',
  describe: 'decode and preprocess images (an ImageFolder or a list) into float32 inputs.npy and int64 labels.npy',
  builder: (y) => imageOptions(y)
    .option('data', { type: 'string', demandOption: true, describe: "'imagefolder:DIR' (torchvision ImageFolder) or 'list:FILE' (path<TAB>label lines)" })
    .option('examples', { type: 'number', describe: 'the first N images' })
    .option('indices', { type: 'string', describe: 'instead of --examples: the images to take (5+9+12, 0-499 or @file)' })
    .option('out', { type: 'string', demandOption: true, describe: 'float32 .npy [n, 3, H, W]' })
    .option('labels-out', { type: 'string', demandOption: true, describe: 'int64 .npy [n]' })
    .option('quiet', { type: 'boolean', describe: 'no progress bar' }) as any,
  handler: async (args) => {
    const src = parseImageSource(args.data);
    check(src, () => `--data ${args.data}: coar preprocess reads images; use imagefolder:DIR or list:FILE`);
    check(args.indices === undefined || args.examples === undefined, () => 'give --examples (the first N) or --indices, not both');
    check(args.examples === undefined || (Number.isInteger(args.examples) && args.examples > 0), () => `--examples must be a positive integer, got ${args.examples}`);
    const spec = imageSpec(src.source, src.path, preprocessingFrom(args), args['bad-images'] ?? 'fail');
    const select = args.indices !== undefined ? { indices: parseIndices(args.indices, '--indices') } : { count: args.examples };
    let bar = { update(_: number) {}, stop() {} };
    const t0 = performance.now();
    const ex = await loadImageExamples(spec, null, select, {
      onImages: (done, total) => {
        if (done === 1 && !args.quiet) bar = progressBar('preprocess', total, 'images');
        bar.update(done);
      },
    });
    bar.stop();
    const { n, c, h, w } = ex.shape;
    // streamed a batch of images at a time: a cached set is never whole in memory
    const batch = 32;
    writeFileAtomic(args.out, (function* () {
      yield npyHeaderBytes('f4', [n, c, h, w]);
      for (let e = 0; e < n; e += batch) {
        const t = ex.inputs.chunk(e, Math.min(batch, n - e));
        yield new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
      }
    })());
    ex.inputs.close?.();
    writeNpy(args['labels-out'], 'i8', [n], BigInt64Array.from(ex.labels, (v) => BigInt(v)));
    const s = (performance.now() - t0) / 1000;
    const skipped = ex.spec.source === 'imagefolder' || ex.spec.source === 'list' ? ex.spec.skipped ?? [] : [];
    for (const k of skipped) console.error(`skipped ${k.reason}`);
    console.error(`preprocess: ${n} images (${spec.preprocessing.kind}) -> ${args.out} [${n}, ${c}, ${h}, ${w}], ${args['labels-out']} in ${s.toFixed(1)} s (${(n / s).toFixed(1)} images/s)${skipped.length ? `; ${skipped.length} skipped` : ''}`);
  },
};
