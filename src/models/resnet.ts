/**
 * ResNets in torchvision's layout (resnet18/34/50/101/152, any width, any class count),
 * the reference's CIFAR ResNet (its `cifar_resnet` model: 3x3 stem, no max pool, `shortcut`
 * projections, AvgPool2d(4), `linear`; resnet18/34/50/101/152 at any width) and its CIFAR
 * MiniResNet (REFERENCE.md, "Components"), read from safetensors with PyTorch's parameter
 * names. Widths and depths come from the weights; what differs by layout is in resnet_layout.ts.
 *
 * Components: the output filters of every conv whose module name contains `conv`, in
 * module order; projection (downsample, shortcut) convs are not components.
 */
import { UserError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { ceil4, uploadConv, type MapShape } from '../kernels/conv2d.js';
import { ComponentTable } from './components.js';
import { convOp, INPUT, poolOp, type Network, type Op } from './network.js';
import { layoutOf, type ResNetLayout } from './resnet_layout.js';
import type { Weights } from './weights.js';

type Block = {
  prefix: string;                       // e.g. layer2.0
  convs: { name: string; k: number; stride: number; pad: number; cin: number; cout: number }[];
  /** the projection shortcut, `module` e.g. layer2.0.downsample (conv `.0`, BatchNorm `.1`) */
  projection?: { module: string; stride: number; cin: number; cout: number };
};

export interface ResNetSpec {
  arch: string;
  layout: ResNetLayout;
  inChannels: number;
  classes: number;
  components: ComponentTable;
  blocks: Block[];
  stem: { k: number; stride: number; pad: number; cout: number };
  /** channels out of the last block */
  channels: number;
  /** inputs of the classifier (channels x pooled pixels for the CIFAR layouts) */
  features: number;
  /** the input side the model is made for, when its weights say */
  inputSize?: number;
  weights: Weights;
}

const STANDARD: Record<string, { bottleneck: boolean; depths: number[] }> = {
  resnet18: { bottleneck: false, depths: [2, 2, 2, 2] },
  resnet34: { bottleneck: false, depths: [3, 4, 6, 3] },
  resnet50: { bottleneck: true, depths: [3, 4, 6, 3] },
  resnet101: { bottleneck: true, depths: [3, 4, 23, 3] },
  resnet152: { bottleneck: true, depths: [3, 8, 36, 3] },
};

export const RESNET_ARCHS = ['mini-resnet', 'resnet', ...Object.keys(STANDARD), 'cifar-resnet', ...Object.keys(STANDARD).map((a) => `cifar-${a}`)];

/** Read the structure from the weights and check every tensor's shape. */
export function resnetSpec(arch: string, wts: Weights): ResNetSpec {
  const layout = layoutOf(arch);
  if (layout.kind === 'mini') return miniSpec(wts);
  checkLayout(arch, layout, wts);
  const stemW = wts.get('conv1.weight', [undefined, undefined, undefined, undefined]);
  const [width, inChannels, k] = stemW.shape as [number, number, number];
  const blocks: Block[] = [];
  const depths: number[] = [];
  let cin = width;
  let bottleneck: boolean | undefined;
  for (let L = 1; wts.has(`layer${L}.0.conv1.weight`); L++) {
    let i = 0;
    for (; wts.has(`layer${L}.${i}.conv1.weight`); i++) {
      const prefix = `layer${L}.${i}`;
      const isB = wts.has(`${prefix}.conv3.weight`);
      if (bottleneck === undefined) bottleneck = isB;
      else if (bottleneck !== isB) throw new UserError(`${wts.file.path}: ${prefix} is a ${isB ? 'Bottleneck' : 'BasicBlock'} but earlier blocks are not`);
      const stride = L > 1 && i === 0 ? 2 : 1;
      const planes = wts.get(`${prefix}.conv1.weight`, [undefined, cin, undefined, undefined]).shape[0]!;
      let convs: Block['convs'];
      if (isB) {
        const cout = wts.get(`${prefix}.conv3.weight`, [undefined, planes, 1, 1]).shape[0]!;
        convs = [
          { name: 'conv1', k: 1, stride: 1, pad: 0, cin, cout: planes },
          { name: 'conv2', k: 3, stride, pad: 1, cin: planes, cout: planes },
          { name: 'conv3', k: 1, stride: 1, pad: 0, cin: planes, cout },
        ];
      } else {
        convs = [
          { name: 'conv1', k: 3, stride, pad: 1, cin, cout: planes },
          { name: 'conv2', k: 3, stride: 1, pad: 1, cin: planes, cout: planes },
        ];
      }
      const cout = convs[convs.length - 1]!.cout;
      const module = `${prefix}.${layout.projection}`;
      const projection = wts.has(`${module}.0.weight`) ? { module, stride, cin, cout } : undefined;
      if (!projection && (stride !== 1 || cin !== cout)) {
        throw new UserError(`${wts.file.path}: block ${prefix} changes shape (${cin}→${cout} channels, stride ${stride}) but has no '${module}.0.weight'`);
      }
      blocks.push({ prefix, convs, projection });
      cin = cout;
    }
    depths.push(i);
  }
  if (!blocks.length) throw new UserError(`${wts.file.path}: no 'layer1.0.conv1.weight': not a ResNet (for the CIFAR MiniResNet use --arch mini-resnet)`);
  const standard = STANDARD[arch.replace(/^cifar-/, '')];
  if (standard && (standard.bottleneck !== bottleneck || standard.depths.join() !== depths.join())) {
    throw new UserError(`${wts.file.path}: --arch ${arch} expects ${standard.bottleneck ? 'Bottleneck' : 'BasicBlock'} blocks ${standard.depths.join('-')}, the weights have ${bottleneck ? 'Bottleneck' : 'BasicBlock'} blocks ${depths.join('-')}`);
  }
  // torchvision pools to 1x1; the reference's CIFAR ResNet's linear takes feat_scale x channels
  // (its feat_scale: 1 at 32x32, 4 at 64x64)
  const [classes, headIn] = wts.get(`${layout.head}.weight`, [undefined, layout.poolWindow ? undefined : cin]).shape as [number, number];
  const side = Math.round(Math.sqrt(headIn / cin));
  const spec: ResNetSpec = {
    arch, layout, inChannels, classes, blocks, weights: wts, channels: cin, features: headIn,
    inputSize: layout.poolWindow && side * side * cin === headIn ? 32 * side : undefined,
    stem: { k, stride: layout.stemStride, pad: Math.floor(k / 2), cout: width },
    components: new ComponentTable([
      { layer: 'conv1', param: 'conv1.weight', count: width },
      ...blocks.flatMap((b) => b.convs.map((c) => ({ layer: `${b.prefix}.${c.name}`, param: `${b.prefix}.${c.name}.weight`, count: c.cout }))),
    ]),
  };
  checkTensors(spec);
  return spec;
}

/** Weights of the other ResNet layout fail naming the --arch that reads them. */
function checkLayout(arch: string, layout: ResNetLayout, wts: Weights): void {
  const p = wts.file.path;
  if (layout.kind === 'torchvision' && !wts.has('fc.weight') && wts.has('linear.weight') && wts.has('layer1.0.conv1.weight')) {
    throw new UserError(`${p}: has 'linear.weight' and no 'fc.weight': these are the reference's CIFAR ResNet weights, use --arch cifar-${arch}`);
  }
  if (layout.kind === 'cifar' && !wts.has('linear.weight') && wts.has('fc.weight')) {
    throw new UserError(`${p}: has 'fc.weight' and no 'linear.weight': these are torchvision ResNet weights, use --arch ${arch.replace(/^cifar-/, '')}`);
  }
}

/** The reference CIFAR MiniResNet: conv1+bn1, K BasicBlocks in `layer`, AvgPool2d(8), `linear`. */
function miniSpec(wts: Weights): ResNetSpec {
  const stemW = wts.get('conv1.weight', [undefined, undefined, 3, 3]);
  const [width, inChannels] = stemW.shape as [number, number];
  // the reference registers each block twice (`layer.N` and `blockN`); module order keeps `layer.N`
  const prefixOf = (i: number) => (wts.has(`layer.${i}.conv1.weight`) ? `layer.${i}` : wts.has(`block${i}.conv1.weight`) ? `block${i}` : undefined);
  const blocks: Block[] = [];
  for (let i = 0; prefixOf(i); i++) {
    blocks.push({
      prefix: prefixOf(i)!,
      convs: [
        { name: 'conv1', k: 3, stride: 1, pad: 1, cin: width, cout: width },
        { name: 'conv2', k: 3, stride: 1, pad: 1, cin: width, cout: width },
      ],
    });
  }
  if (!blocks.length) throw new UserError(`${wts.file.path}: no 'layer.0.conv1.weight': not a MiniResNet`);
  const linear = wts.get('linear.weight', [undefined, undefined]);
  const classes = linear.shape[0]!;
  const spec: ResNetSpec = {
    arch: 'mini-resnet', layout: layoutOf('mini-resnet'), inChannels, classes, blocks, weights: wts,
    channels: width, features: linear.shape[1]!, inputSize: 32,
    stem: { k: 3, stride: 1, pad: 1, cout: width },
    components: new ComponentTable([
      { layer: 'conv1', param: 'conv1.weight', count: width },
      ...blocks.flatMap((b) => b.convs.map((c) => ({ layer: `layer.${blocks.indexOf(b)}.${c.name}`, param: `layer.${blocks.indexOf(b)}.${c.name}.weight`, count: c.cout }))),
    ]),
  };
  checkTensors(spec);
  return spec;
}

/** Take every tensor once with its full expected shape (so errors come before the GPU). */
function checkTensors(s: ResNetSpec): void {
  const w = s.weights;
  w.batchNorm('bn1', s.stem.cout);
  for (const b of s.blocks) {
    b.convs.forEach((c, i) => {
      w.get(`${b.prefix}.${c.name}.weight`, [c.cout, c.cin, c.k, c.k]);
      w.batchNorm(`${b.prefix}.bn${i + 1}`, c.cout);
    });
    if (b.projection) {
      w.get(`${b.projection.module}.0.weight`, [b.projection.cout, b.projection.cin, 1, 1]);
      w.batchNorm(`${b.projection.module}.1`, b.projection.cout);
    }
  }
  const fc = s.layout.head;
  w.get(`${fc}.weight`, [s.classes, s.features]);
  w.get(`${fc}.bias`, [s.classes]);
}

/** Upload the weights and lay out the ops for inputs of shape [c, h, w]. */
export function buildResNet(ctx: GpuContext, s: ResNetSpec, input: { c: number; h: number; w: number }): Network {
  const w = s.weights;
  if (input.c !== s.inChannels) throw new UserError(`inputs have ${input.c} channels, the model's conv1 expects ${s.inChannels}`);
  const uploads: GPUBuffer[] = [];
  const conv = (label: string, param: string, bn: string, cout: number, stride: number, pad: number) => {
    const t = w.get(param, [cout, undefined, undefined, undefined]);
    const { scale, shift } = w.batchNorm(bn, cout);
    const cw = uploadConv(ctx, label, t.data, t.shape, scale, shift, { stride, pad });
    uploads.push(cw.w, cw.scaleShift);
    return cw;
  };
  const ops: Op[] = [];
  let shape: MapShape = { h: input.h, w: input.w, c: ceil4(input.c) };
  const stem = convOp({
    label: 'conv1', cw: conv('conv1', 'conv1.weight', 'bn1', s.stem.cout, s.stem.stride, s.stem.pad),
    input: INPUT, inShape: shape, output: 'stem', act: 'relu', componentOffset: s.components.group('conv1').offset,
  });
  ops.push(stem);
  let cur = 'stem';
  shape = stem.outShape;
  if (s.layout.maxpool) {
    const mp = poolOp({ label: 'maxpool', spec: { kind: 'max', k: 3, stride: 2, pad: 1 }, input: cur, inShape: shape, output: 'maxpool' });
    ops.push(mp);
    cur = 'maxpool';
    shape = mp.outShape;
  }
  s.blocks.forEach((b, bi) => {
    const blockIn = cur, blockInShape = shape;
    let shortcut = blockIn;
    if (b.projection) {
      const p = b.projection;
      const ds = convOp({
        label: p.module, cw: conv(p.module, `${p.module}.0.weight`, `${p.module}.1`, p.cout, p.stride, 0),
        input: blockIn, inShape: blockInShape, output: `${b.prefix}.shortcut`, act: 'none',
      });
      ops.push(ds);
      shortcut = ds.output;
    }
    b.convs.forEach((c, i) => {
      const last = i === b.convs.length - 1;
      const layer = s.layout.kind === 'mini' ? `layer.${bi}.${c.name}` : `${b.prefix}.${c.name}`;
      const op = convOp({
        label: layer, cw: conv(layer, `${b.prefix}.${c.name}.weight`, `${b.prefix}.bn${i + 1}`, c.cout, c.stride, c.pad),
        input: cur, inShape: shape, output: `${layer}.out`, act: 'relu',
        residual: last ? shortcut : undefined, componentOffset: s.components.group(layer).offset,
      });
      ops.push(op);
      cur = op.output;
      shape = op.outShape;
    });
  });
  // pooling, then the classifier as a 1x1 conv over the flattened map
  let cinIndex: ((i: number) => number) | undefined;
  if (s.layout.poolWindow) {
    const k = s.layout.poolWindow;
    const ap = poolOp({ label: 'avgpool', spec: { kind: 'avg', k, stride: k, pad: 0 }, input: cur, inShape: shape, output: 'avgpool' });
    ops.push(ap);
    cur = 'avgpool';
    const o = ap.outShape;
    const hw = o.h * o.w;
    if (s.channels * hw !== s.features) {
      const made = s.inputSize ? `${s.inputSize}x${s.inputSize}` : 'other';
      throw new UserError(`${w.file.path}: inputs of ${input.h}x${input.w} pool to ${o.h}x${o.w}x${s.channels} = ${s.channels * hw} features, but '${s.layout.head}.weight' takes ${s.features} (the model is made for ${made} inputs)`);
    }
    // PyTorch flattens NCHW (channel-major); our map is NHWC
    cinIndex = (i) => (i % hw) * o.c + Math.floor(i / hw);
    shape = { h: 1, w: 1, c: hw * o.c };
  } else {
    const ap = poolOp({ label: 'avgpool', spec: { kind: 'avg', k: shape.h, stride: 1, pad: 0 }, input: cur, inShape: shape, output: 'avgpool' });
    if (shape.h !== shape.w) throw new UserError(`non-square feature map ${shape.h}x${shape.w}: use square inputs`);
    ops.push(ap);
    cur = 'avgpool';
    shape = ap.outShape;
  }
  const fc = s.layout.head;
  const fw = w.get(`${fc}.weight`, [s.classes, s.features]);
  const fb = w.get(`${fc}.bias`, [s.classes]);
  const fcw = uploadConv(ctx, fc, fw.data, [s.classes, s.features, 1, 1], new Float32Array(s.classes).fill(1), fb.data, { cinIndex, cinPadded: shape.c });
  uploads.push(fcw.w, fcw.scaleShift);
  ops.push(convOp({ label: fc, cw: fcw, input: cur, inShape: shape, output: 'logits', act: 'none' }));
  return {
    arch: s.arch, components: s.components, input, classes: s.classes, ops, logits: 'logits',
    destroy: () => uploads.forEach((b) => b.destroy()),
  };
}
