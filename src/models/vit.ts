/**
 * Vision Transformers in torchvision's layout (`conv_proj`, `encoder.layers.encoder_layer_N`,
 * `heads.head`) and in timm's (`patch_embed.proj`, `blocks.N`, `head`), read from
 * safetensors. Depth, width, MLP width, patch and image size come from the weights; the
 * number of heads from the metadata key `num_heads` or `--heads`.
 *
 * Forward (eval, as torchvision's VisionTransformer): patches = conv_proj(x) flattened to
 * tokens; prepend the class token; add the position embedding; per block
 *   x = x + out_proj(MHA(ln_1(x)));  x = x + fc2(gelu(fc1(ln_2(x))));
 * then the final LayerNorm, token 0, and the classifier head. Only token 0 of the last
 * block reaches the head, so that block computes its query, out_proj and MLP for token 0
 * alone (its keys and values still come from every token): the same numbers, ~6% less work.
 *
 * Components (REFERENCE.md, "Components"): per block the rows of in_proj (q, k, v), of
 * out_proj, fc1 and fc2, in module order; the patch embedding and the head are not.
 * Each is masked on its output row before the bias, so an ablated row yields its bias.
 */
import { UserError } from '../errors.js';
import type { GpuContext } from '../gpu/context.js';
import { attention } from '../kernels/attention.js';
import { ceil4, conv2d, uploadConv, type ConvWeights, type MapShape } from '../kernels/conv2d.js';
import { layerNorm, uploadLayerNorm, type LayerNormWeights } from '../kernels/layernorm.js';
import { embedTokens, firstToken, uploadTokenEmbedding } from '../kernels/tokens.js';
import { ComponentTable } from './components.js';
import { convOp, INPUT, type Network, type Op } from './network.js';
import type { Weights } from './weights.js';

/** Where a layout keeps each tensor; `component` is the module name a component group is listed under. */
interface Layout {
  kind: 'torchvision' | 'timm';
  patch: string; cls: string; pos: string; norm: string; head: string;
  block(i: number): string;
  ln1: string; ln2: string;
  qkvWeight: string; qkvBias: string; qkvLayer: string;
  proj: string; fc1: string; fc2: string;
}

const TORCHVISION: Layout = {
  kind: 'torchvision',
  patch: 'conv_proj', cls: 'class_token', pos: 'encoder.pos_embedding', norm: 'encoder.ln', head: 'heads.head',
  block: (i) => `encoder.layers.encoder_layer_${i}`,
  ln1: 'ln_1', ln2: 'ln_2',
  qkvWeight: 'self_attention.in_proj_weight', qkvBias: 'self_attention.in_proj_bias', qkvLayer: 'self_attention',
  proj: 'self_attention.out_proj', fc1: 'mlp.0', fc2: 'mlp.3',
};

const TIMM: Layout = {
  kind: 'timm',
  patch: 'patch_embed.proj', cls: 'cls_token', pos: 'pos_embed', norm: 'norm', head: 'head',
  block: (i) => `blocks.${i}`,
  ln1: 'norm1', ln2: 'norm2',
  qkvWeight: 'attn.qkv.weight', qkvBias: 'attn.qkv.bias', qkvLayer: 'attn.qkv',
  proj: 'attn.proj', fc1: 'mlp.fc1', fc2: 'mlp.fc2',
};

/** torchvision's ViT-B/16 (and timm's vit_base_patch16_224): the shape `--arch vit_b_16` checks. */
const VIT_B_16 = { layers: 12, width: 768, mlp: 3072, patch: 16, tokens: 197, heads: 12 };

export const VIT_ARCHS = ['vit', 'vit_b_16'];

/** LayerNorm eps of torchvision's and timm's ViTs. */
const LN_EPS = 1e-6;

export interface ViTSpec {
  arch: string;
  layout: Layout;
  inChannels: number;
  classes: number;
  width: number;
  /** MLP width of each block */
  mlp: number[];
  layers: number;
  patch: number;
  tokens: number;
  /** undefined until given by metadata or --heads (needed to run, not to list components) */
  heads?: number;
  components: ComponentTable;
  weights: Weights;
}

/** Read the structure from the weights, check every tensor's shape, and list the components. */
export function vitSpec(arch: string, wts: Weights, opts: { heads?: number } = {}): ViTSpec {
  const path = wts.file.path;
  const layout = wts.has('conv_proj.weight') ? TORCHVISION : wts.has('patch_embed.proj.weight') ? TIMM : undefined;
  if (!layout) throw new UserError(`${path}: neither 'conv_proj.weight' (torchvision) nor 'patch_embed.proj.weight' (timm): not a Vision Transformer`);
  const pw = wts.get(`${layout.patch}.weight`, [undefined, undefined, undefined, undefined]);
  const [width, inChannels, ph, pwid] = pw.shape as [number, number, number, number];
  if (ph !== pwid) throw new UserError(`${path}: '${layout.patch}.weight' has non-square patches ${ph}x${pwid}`);
  wts.get(`${layout.patch}.bias`, [width]);
  wts.get(layout.cls, [1, 1, width]);
  const tokens = wts.get(layout.pos, [1, undefined, width]).shape[1]!;
  if (tokens < 2) throw new UserError(`${path}: '${layout.pos}' has ${tokens} tokens; a ViT needs the class token and at least one patch`);

  const mlp: number[] = [];
  const groups: { layer: string; param: string; count: number }[] = [];
  let layers = 0;
  for (; wts.has(`${layout.block(layers)}.${layout.qkvWeight}`) || wts.has(`${layout.block(layers)}.${layout.ln1}.weight`); layers++) {
    const b = layout.block(layers);
    wts.get(`${b}.${layout.ln1}.weight`, [width]);
    wts.get(`${b}.${layout.ln1}.bias`, [width]);
    const qkv = wts.get(`${b}.${layout.qkvWeight}`, [undefined, undefined]);
    if (qkv.shape[0] !== 3 * width || qkv.shape[1] !== width) {
      throw new UserError(`${path}: tensor '${b}.${layout.qkvWeight}' has shape [${qkv.shape.join(', ')}], expected [${3 * width}, ${width}] (q, k and v rows for width ${width})`);
    }
    // timm's qkv_bias=False leaves the bias out; torchvision always has it
    if (layout.kind === 'torchvision' || wts.has(`${b}.${layout.qkvBias}`)) wts.get(`${b}.${layout.qkvBias}`, [3 * width]);
    linear(wts, `${b}.${layout.proj}`, width, width);
    wts.get(`${b}.${layout.ln2}.weight`, [width]);
    wts.get(`${b}.${layout.ln2}.bias`, [width]);
    const m = wts.get(`${b}.${layout.fc1}.weight`, [undefined, width]).shape[0]!;
    linear(wts, `${b}.${layout.fc1}`, m, width);
    linear(wts, `${b}.${layout.fc2}`, width, m);
    mlp.push(m);
    const qkvParam = `${b}.${layout.qkvWeight}`;
    groups.push(
      { layer: `${b}.${layout.qkvLayer}`, param: qkvParam, count: 3 * width },
      { layer: `${b}.${layout.proj}`, param: `${b}.${layout.proj}.weight`, count: width },
      { layer: `${b}.${layout.fc1}`, param: `${b}.${layout.fc1}.weight`, count: m },
      { layer: `${b}.${layout.fc2}`, param: `${b}.${layout.fc2}.weight`, count: width },
    );
  }
  if (!layers) throw new UserError(`${path}: no '${layout.block(0)}.${layout.qkvWeight}': a ViT needs at least one encoder block`);
  wts.get(`${layout.norm}.weight`, [width]);
  wts.get(`${layout.norm}.bias`, [width]);
  const classes = wts.get(`${layout.head}.weight`, [undefined, width]).shape[0]!;
  wts.get(`${layout.head}.bias`, [classes]);

  // anything left over is a variant this engine would silently compute wrong
  const extra = [...wts.file.tensors.keys()].filter((k) => !wts.used.has(k));
  if (extra.length) {
    throw new UserError(`${path}: unexpected tensor${extra.length > 1 ? 's' : ''} ${extra.slice(0, 3).map((k) => `'${k}'`).join(', ')}${extra.length > 3 ? `, ... (${extra.length})` : ''}: ` +
      'this ViT variant (pre-logits, layer scale, register tokens, fc_norm, ...) is not supported');
  }

  const heads = resolveHeads(arch, wts, width, opts.heads);
  if (arch === 'vit_b_16') {
    const got = { layers, width, mlp: Math.max(...mlp), patch: ph, tokens, heads: heads ?? VIT_B_16.heads };
    const bad = (Object.keys(VIT_B_16) as (keyof typeof VIT_B_16)[]).filter((k) => got[k] !== VIT_B_16[k] || (k === 'mlp' && Math.min(...mlp) !== VIT_B_16.mlp));
    if (bad.length) {
      throw new UserError(`${path}: --arch vit_b_16 expects ${bad.map((k) => `${k} ${VIT_B_16[k]}`).join(', ')}; the weights have ${bad.map((k) => `${k} ${got[k]}`).join(', ')} (use --arch vit for other shapes)`);
    }
  }
  return {
    arch, layout, inChannels, classes, width, mlp, layers, patch: ph, tokens,
    heads: arch === 'vit_b_16' ? heads ?? VIT_B_16.heads : heads,
    components: new ComponentTable(groups), weights: wts,
  };
}

function linear(wts: Weights, prefix: string, out: number, inp: number): void {
  wts.get(`${prefix}.weight`, [out, inp]);
  wts.get(`${prefix}.bias`, [out]);
}

/** Heads from --heads, else the metadata key `num_heads`; they must divide the width. */
function resolveHeads(arch: string, wts: Weights, width: number, flag?: number): number | undefined {
  const meta = wts.metadata['num_heads'];
  let heads = flag;
  let source = '--heads';
  if (heads === undefined && meta !== undefined) {
    heads = Number(meta);
    source = `metadata num_heads of ${wts.file.path}`;
  }
  if (heads === undefined) return undefined;
  if (!Number.isInteger(heads) || heads < 1) throw new UserError(`${source} is '${heads}': the number of attention heads must be a positive integer`);
  if (width % heads !== 0) throw new UserError(`${source} = ${heads} does not divide the model width ${width} (${arch}): each head needs width / heads channels`);
  return heads;
}

/** Upload the weights and lay out the ops for inputs of shape [c, h, w]. */
export function buildViT(ctx: GpuContext, s: ViTSpec, input: { c: number; h: number; w: number }): Network {
  const w = s.weights, L = s.layout, D = s.width;
  const path = w.file.path;
  if (s.heads === undefined) {
    throw new UserError(`${path}: the number of attention heads is not in the metadata (key num_heads): give it with --heads N`);
  }
  const heads = s.heads;
  if (input.c !== s.inChannels) throw new UserError(`inputs have ${input.c} channels, the model's '${L.patch}.weight' expects ${s.inChannels}`);
  const side = Math.round(Math.sqrt(s.tokens - 1));
  const expected = side * side === s.tokens - 1 ? `${side * s.patch}x${side * s.patch}` : `images of ${s.tokens - 1} patches`;
  if (input.h % s.patch !== 0 || input.w % s.patch !== 0 || (input.h / s.patch) * (input.w / s.patch) !== s.tokens - 1 || input.h !== input.w) {
    throw new UserError(`inputs of ${input.h}x${input.w} do not fit the position embedding '${L.pos}' of ${s.tokens} tokens ` +
      `(class token + ${s.tokens - 1} patches of ${s.patch}x${s.patch}): the model expects ${expected} inputs`);
  }
  const T = s.tokens;
  const uploads: GPUBuffer[] = [];
  // every uploaded buffer is destroyed with the network
  const ownUpload = <X extends ConvWeights | LayerNormWeights>(x: X): X => {
    if ('w' in x) uploads.push(x.w, x.scaleShift); else uploads.push(x.gammaBeta);
    return x;
  };
  const ones = (n: number) => new Float32Array(n).fill(1);
  const dense = (prefix: string, out: number, inp: number, bias?: Float32Array) => {
    const t = w.get(`${prefix}.weight`, [out, inp]);
    return ownUpload(uploadConv(ctx, prefix, t.data, [out, inp, 1, 1], ones(out), bias ?? w.get(`${prefix}.bias`, [out]).data));
  };
  const norm = (prefix: string) => ownUpload(uploadLayerNorm(ctx, prefix, w.get(`${prefix}.weight`, [D]).data, w.get(`${prefix}.bias`, [D]).data, LN_EPS));
  const tokensShape: MapShape = { h: 1, w: T, c: ceil4(D) };
  const tokenElems = T * ceil4(D);
  const ops: Op[] = [];

  // patch embedding: a conv with kernel = stride = patch, once per example (not per mask)
  const pw = w.get(`${L.patch}.weight`, [D, s.inChannels, s.patch, s.patch]);
  const patchConv = ownUpload(uploadConv(ctx, L.patch, pw.data, pw.shape, ones(D), w.get(`${L.patch}.bias`, [D]).data, { stride: s.patch }));
  const inShape: MapShape = { h: input.h, w: input.w, c: ceil4(input.c) };
  ops.push({
    label: L.patch, inputs: [INPUT], output: 'patches', outElems: (T - 1) * ceil4(D),
    flops: 2 * (T - 1) * D * s.inChannels * s.patch * s.patch,
    kind: 'conv', shape: { h: input.h, w: input.w, cin: s.inChannels, cout: D, kh: s.patch, kw: s.patch, stride: s.patch, pad: 0, oh: Math.floor(input.h / s.patch), ow: Math.floor(input.w / s.patch) },
    readElems: inShape.h * inShape.w * inShape.c, weightBytes: s.patch * s.patch * inShape.c * ceil4(D) * 4,
    encode: (env) => [conv2d(env.ctx, patchConv, {
      x: env.buf(INPUT), xShape: inShape, inputItems: env.inputItems, y: env.buf('patches'), batch: env.inputItems, act: 'none', yF16: env.f16('patches'),
    })],
  });
  const emb = uploadTokenEmbedding(ctx, 'tokens', w.get(L.cls, [1, 1, D]).data, w.get(L.pos, [1, T, D]).data, D);
  uploads.push(emb.clsPos);
  ops.push({
    label: 'tokens', inputs: ['patches'], output: 'x0', outElems: tokenElems, flops: T * D, readElems: (T - 1) * ceil4(D),
    kind: 'tokens', shape: { tokens: T, d: D },
    encode: (env) => [embedTokens(env.ctx, emb, { patches: env.buf('patches'), examples: env.inputItems, x: env.buf('x0'), batch: env.batch, f16: env.f16('x0') })],
  });

  const lnOp = (label: string, ln: LayerNormWeights, input: string, output: string, inTokens: number, outTokens = inTokens): Op => ({
    label, inputs: [input], output, outElems: outTokens * ceil4(D), flops: 8 * outTokens * D, readElems: outTokens * ceil4(D),
    kind: 'layernorm', shape: { tokens: outTokens, d: D },
    encode: (env) => [layerNorm(env.ctx, ln, { x: env.buf(input), y: env.buf(output), batch: env.batch, inTokens, outTokens, f16: env.f16(output) })],
  });

  let x = 'x0';
  for (let i = 0; i < s.layers; i++) {
    const b = L.block(i), M = s.mlp[i]!;
    const offset = (layer: string) => s.components.group(`${b}.${layer}`).offset;
    // Only the class token of the last block reaches the logits: there, every token still
    // gives keys and values, but only token 0 asks a query and goes through out_proj and the MLP.
    const last = i === s.layers - 1;
    const n = last ? 1 : T;
    const shape: MapShape = { h: 1, w: n, c: ceil4(D) };
    ops.push(lnOp(`${b}.${L.ln1}`, norm(`${b}.${L.ln1}`), x, `${b}.ln1`, T));
    const qkvBias = w.has(`${b}.${L.qkvBias}`) ? w.get(`${b}.${L.qkvBias}`, [3 * D]).data : new Float32Array(3 * D);
    const qkvW = w.get(`${b}.${L.qkvWeight}`, [3 * D, D]);
    const qkv = ownUpload(uploadConv(ctx, `${b}.${L.qkvLayer}`, qkvW.data, [3 * D, D, 1, 1], ones(3 * D), qkvBias));
    ops.push(convOp({ label: `${b}.${L.qkvLayer}`, cw: qkv, input: `${b}.ln1`, inShape: tokensShape, output: `${b}.qkv`, act: 'none', componentOffset: offset(L.qkvLayer) }));
    ops.push({
      label: `${b}.attention`, inputs: [`${b}.qkv`], output: `${b}.heads`, outElems: n * ceil4(D), flops: 4 * n * T * D, readElems: T * ceil4(3 * D),
      kind: 'attention', shape: { tokens: T, queries: n, d: D, heads },
      encode: (env) => [attention(env.ctx, { qkv: env.buf(`${b}.qkv`), o: env.buf(`${b}.heads`), batch: env.batch, tokens: T, queries: n, d: D, heads, f16: env.f16(`${b}.heads`) })],
    });
    let residual = x;
    if (last) {
      const from = x;
      ops.push({
        label: `${b}.class_token`, inputs: [from], output: `${b}.cls_in`, outElems: ceil4(D), flops: 0, readElems: ceil4(D),
        kind: 'copy', shape: { tokens: T, d: D },
        encode: (env) => [firstToken(env.ctx, { x: env.buf(from), tokens: T, d: D, y: env.buf(`${b}.cls_in`), batch: env.batch, f16: env.f16(from) })],
      });
      residual = `${b}.cls_in`;
    }
    ops.push(convOp({
      label: `${b}.${L.proj}`, cw: dense(`${b}.${L.proj}`, D, D), input: `${b}.heads`, inShape: shape, output: `${b}.attn`,
      residual, act: 'none', componentOffset: offset(L.proj),
    }));
    ops.push(lnOp(`${b}.${L.ln2}`, norm(`${b}.${L.ln2}`), `${b}.attn`, `${b}.ln2`, n));
    ops.push(convOp({
      label: `${b}.${L.fc1}`, cw: dense(`${b}.${L.fc1}`, M, D), input: `${b}.ln2`, inShape: shape, output: `${b}.hidden`,
      act: 'gelu', componentOffset: offset(L.fc1),
    }));
    ops.push(convOp({
      label: `${b}.${L.fc2}`, cw: dense(`${b}.${L.fc2}`, D, M), input: `${b}.hidden`, inShape: { h: 1, w: n, c: ceil4(M) }, output: `${b}.out`,
      residual: `${b}.attn`, act: 'none', componentOffset: offset(L.fc2),
    }));
    x = `${b}.out`;
  }
  // the encoder's final LayerNorm, on the class token alone (LayerNorm acts per token)
  ops.push(lnOp(L.norm, norm(L.norm), x, 'cls', 1));
  ops.push(convOp({ label: L.head, cw: dense(L.head, s.classes, D), input: 'cls', inShape: { h: 1, w: 1, c: ceil4(D) }, output: 'logits', act: 'none' }));
  return {
    arch: s.arch, components: s.components, input, classes: s.classes, ops, logits: 'logits',
    destroy: () => uploads.forEach((b) => b.destroy()),
  };
}
