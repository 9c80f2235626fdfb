/**
 * `coar convert IN.pth OUT.safetensors`: a torchvision-style state dict to safetensors,
 * read by Debian's PyTorch with torch.load(weights_only=True), so no pickle code runs;
 * a checkpoint that is not plain tensors is refused with the loader's reason.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { check, UserError } from '../../errors.js';
import { readNpy } from '../../io/npy.js';
import { writeSafetensors, type Tensor } from '../../io/safetensors.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'scripts', 'pth_state_dict.py');
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface ConvertResult { tensors: number; skipped: string[] }

export function convertCheckpoint(src: string, out: string, stripPrefix?: string): ConvertResult {
  check(existsSync(src) && statSync(src).isFile(), () => `${src}: no such file`);
  check(!existsSync(out), () => `${out} already exists; choose another name (nothing is overwritten)`);
  const tmp = mkdtempSync(join(tmpdir(), 'coar-convert-'));
  try {
    const r = spawnSync(PYTHON, [SCRIPT, src, tmp], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.error || (r.status !== 0 && r.status !== 3)) {
      const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? '');
      throw new UserError(`${src}: PyTorch could not read it (${why}); coar convert needs Debian's python3-torch`);
    }
    let index: { error?: string; tensors: { name: string; file: string }[]; skipped: string[] };
    try { index = JSON.parse(r.stdout.trim().split('\n').pop()!); } catch { throw new UserError(`${src}: PyTorch could not read it (${r.stderr.trim().split('\n').pop()})`); }
    if (index.error) throw new UserError(`${src}: ${index.error}`);
    const tensors = new Map<string, Tensor>();
    for (const t of index.tensors) {
      const a = readNpy(join(tmp, t.file));
      const name = stripPrefix && t.name.startsWith(stripPrefix) ? t.name.slice(stripPrefix.length) : t.name;
      check(!tensors.has(name), () => `${src}: two tensors are named ${name} after --strip-prefix`);
      tensors.set(name, { shape: a.shape, data: a.data as Float32Array });
    }
    writeSafetensors(out, tensors, { source: 'coar convert', from: src });
    return { tensors: tensors.size, skipped: index.skipped };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export const convert: CommandModule<{}, { in: string; out: string; 'strip-prefix'?: string }> = {
  command: 'convert <in> <out>',
  describe: 'a PyTorch state dict (.pth) to safetensors, loaded without executing pickle code',
  builder: (y) => y
    .positional('in', { type: 'string', demandOption: true, describe: 'checkpoint saved with torch.save(model.state_dict())' })
    .positional('out', { type: 'string', demandOption: true, describe: 'the .safetensors file to write (must not exist)' })
    .option('strip-prefix', { type: 'string', describe: "drop this prefix from names, e.g. 'module.' of DataParallel" })
    .example('coar convert resnet18.pth resnet18.safetensors', 'then: coar sweep --arch resnet18 --weights resnet18.safetensors ...') as any,
  handler: (args) => {
    const r = convertCheckpoint(args.in, args.out, args['strip-prefix']);
    console.error(`convert: ${args.out}: ${r.tensors} tensors${r.skipped.length ? ` (not weights, left out: ${r.skipped.slice(0, 3).join(', ')}${r.skipped.length > 3 ? `, ... ${r.skipped.length} in all` : ''})` : ''}`);
  },
};
