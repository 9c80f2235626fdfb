/**
 * A working example for every command's --help (issue 20.2), kept in one table so that the
 * commands' own modules stay as they are; test/help.test.ts checks that every command shows
 * one and that each example uses only flags the command has. The paths are the bundled
 * weights and the folders the other examples write, so they run in order from the
 * repository's root.
 */
import type { Argv, CommandModule } from 'yargs';

type Example = [command: string, description: string];

const CNN = 'weights/fashion-cnn.safetensors';

export const EXAMPLES: Record<string, Example[]> = {
  info: [['$0 info', 'the adapter, its backend, features and limits']],
  components: [[`$0 components --arch mini-resnet --weights ${CNN}`, 'the bundled CNN\'s component table (index, name, layer)']],
  ablate: [[`$0 ablate --arch mini-resnet --weights ${CNN} --inputs x.npy --labels y.npy --masks masks.npy --out margins.npy`, 'margins [k, n] of n inputs under k masks']],
  sweep: [[`$0 sweep --arch mini-resnet --weights ${CNN} --data fashion-mnist --examples 64 --masks 300 --out out/store`, 'margins of 64 test images under 300 random masks (alpha 0.05), resumable'],
    [`$0 sweep --arch mini-resnet --weights ${CNN} --data fashion-mnist --examples 64 --masks 300 --out out/store --queue redis://localhost:6379`, 'the same sweep computed by coar worker processes on any machines']],
  merge: [['$0 merge out/store out/shard0 out/shard1', 'the completed rows of two --shard stores into one']],
  fit: [['$0 fit out/store', 'attributions by ridge (lambda chosen per example on held-out masks)'],
    ['$0 fit /shared/store --queue redis://localhost:6379', 'the same fit, slices of the examples fitted by coar worker processes that see /shared/store']],
  eval: [['$0 eval out/store', 'correlations on 100 fresh masks at alpha/2, alpha and 2 alpha']],
  report: [['$0 report out/store', 'the HTML report again from the files on disk: out/store/report.html']],
  run: [['$0 run', 'the main job: the bundled CNN on 32 Fashion-MNIST images, 600 masks, out/run-cnn/report.html'],
    ['$0 run --model vit --masks 500', 'the bundled ViT, fewer masks']],
  curve: [['$0 curve --model cnn --estimators ols,ridge', 'held-out correlation against the number of masks, curve.html']],
  bench: [['$0 bench ceiling --quick', 'the adapter\'s GEMM and copy ceilings (a short search)'],
    ['$0 bench --profile --model cnn --masks 8 --html roofline.html --trace trace.json', 'per-kernel profile, roofline page and Chrome trace']],
  edit: [[`$0 edit --arch mini-resnet --weights ${CNN} --lower --max-drop 2 --target 'out/store#class=3' --reference 'out/store#class!=3' --out out/edit`,
    'lower class 3\'s margins, losing at most 2 points of accuracy elsewhere']],
  preprocess: [['$0 preprocess --data imagefolder:val --examples 64 --out x.npy --labels-out y.npy', '64 ImageNet-style images, torchvision\'s resize 256 and crop 224']],
  convert: [],
  worker: [['$0 worker --queue redis://coordinator:6379 --weights-dir weights', 'compute the rows of the sweeps and fit the slices queued on that Redis, on this machine\'s adapter']],
};

/** The command with its examples added after its own builder (which may add its own). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function withExamples(c: CommandModule<any, any>): CommandModule<any, any> {
  const name = String(Array.isArray(c.command) ? c.command[0] : c.command).split(' ')[0]!;
  const examples = EXAMPLES[name] ?? [];
  const builder = c.builder;
  if (!examples.length || typeof builder !== 'function') return c;
  return {
    ...c,
    builder: (y: Argv) => {
      let out = builder(y) as Argv;
      for (const [cmd, desc] of examples) out = out.example(cmd, desc);
      return out;
    },
  };
}
