/**
 * `shared`: attributions of all examples fitted together under one prior they share
 * (empirical Bayes, a hierarchical Gaussian model). All examples see the same masks, so
 * the fit is one multi-output problem (REFERENCE.md, "Regression"); this estimator pools
 * strength across its outputs. In standardized units, for example e,
 *   t_e = Z w_e + noise,  noise ~ N(0, sigma_e^2 I),  w_e ~ N(mu, diag(s)),
 * with the prior mean mu and variances s (one per component) and the noise levels learned
 * from all examples at once by EM on the marginal likelihood. Given them, each w_e is the
 * posterior mean: a ridge that shrinks component j toward mu_j with penalty sigma_e^2 / s_j.
 *
 * The prior is heavy-tailed: a Student t with nu degrees of freedom, written as a Gaussian
 * scale mixture w_je ~ N(mu_j, s_j / tau_je), tau_je ~ Gamma(nu/2, nu/2). EM then also updates
 * E[tau_je | w] = (nu + 1) / (nu + ((w_je - mu_j)^2 + var) / s_j), so the penalty
 * sigma_e^2 tau_je / s_j is per (component, example): an attribution far from the typical one
 * (a component that matters for this example only) is shrunk less than under the Gaussian,
 * and mu_j, s_j are tau-weighted. nu is chosen among 2, 4 and Infinity (the Gaussian) on
 * validation rows carved from the rows given (the last val-frac), as ridge chooses lambda,
 * and the choice refitted on all rows; `tail` fixes it instead.
 *
 * Why fewer masks: a component that matters for one example tends to matter for others
 * (stem filters, the attention rows of the class token), and a component that is noise
 * for most examples is noise for the rest. mu_j and s_j are estimated from n times as many
 * margins as any one w_e, so each example's fit borrows the others' evidence about which
 * components to trust: important components are barely shrunk, unimportant ones strongly,
 * and all toward the typical attribution instead of toward 0. With n examples of one model
 * the effective number of free parameters per example falls below |C|.
 *
 * On the device: the normal equations (Z^T Z + diag(sigma_e^2 tau_e / s)) W = Z^T T + diag(...) mu
 * are solved by the project's conjugate gradient (fit/cg.ts) over an operator built
 * from the mask bits (net_train.wgsl: Z P and Z^T Q visit only the set bits). The M-step
 * is a handful of sums over the [|C| x n] solution, read back once per EM iteration.
 */
import type { Dispatch, GpuContext } from '../../gpu/context.js';
import { uniformBuffer } from '../../gpu/buffers.js';
import { addPenalty, forwardHidden, netDispatch, netParams, type NetShape } from '../../kernels/net.js';
import type { PackedMasks } from '../fit_masks.js';
import { Arena, readF32, run } from '../fit/arena.js';
import { CgWorkspace, conjugateGradient } from '../fit/cg.js';
import type { Operator } from '../fit/design.js';
import type { Progress } from '../fit/solve.js';
import { UserError } from '../../errors.js';
import { pearson } from '../eval.js';
import { checkBitsFit, checkedOnDevice, standardizeTargets, toRawUnits, validationSplit, type EstimatorResult } from './common.js';
import { bitStatistics } from './network.js';

export interface SharedOptions {
  /** most EM iterations */
  maxIter?: number;
  /** stop when an iteration moves no attribution by more than this, relative to the largest */
  tol?: number;
  /** conjugate gradient tolerance per solve */
  cgTol?: number;
  /**
   * degrees of freedom of the Student t prior (smaller: heavier tails, less shrinkage of large
   * attributions); Infinity: Gaussian. Unset: chosen among `tails` on validation rows.
   */
  tail?: number;
  /** the candidates for nu when `tail` is unset (default 2, 4 and Infinity) */
  tails?: number[];
  /** share of the rows (the last ones) held out to choose nu; default 0.2 */
  valFrac?: number;
  progress?: Progress;
}

export const SHARED_TAILS = [2, 4, Infinity];

/**
 * The shared fit. With `tail` unset, nu is chosen like ridge's lambda: each candidate is
 * fitted on the first rows and scored on the last `valFrac` of the rows given (mean over
 * examples of the Pearson correlation between predicted and true margins there); the best
 * is refitted on all rows. Nothing but the rows given is read.
 */
export async function fitShared(ctx: GpuContext, masks: PackedMasks, margins: Float32Array, n: number, opts: SharedOptions = {}): Promise<EstimatorResult> {
  if (opts.tail !== undefined) return fitSharedTail(ctx, masks, margins, n, opts.tail, opts);
  const tails = opts.tails ?? SHARED_TAILS;
  if (!tails.length || tails.some((t) => !(t > 0))) throw new UserError(`shared: the candidate degrees of freedom must be > 0, got ${tails.join(', ')}`);
  if (tails.length === 1) return fitSharedTail(ctx, masks, margins, n, tails[0]!, opts);
  const m = masks.rows;
  const split = validationSplit(m, opts.valFrac ?? 0.2);
  const mt = split.train;
  const head = prefixMasks(masks, mt);
  const validation: { tail: number; validationPearson: number }[] = [];
  for (const tail of tails) {
    opts.progress?.(`shared prior: nu = ${tail} on ${mt} train / ${m - mt} validation rows`);
    const r = await fitSharedTail(ctx, head, margins.subarray(0, mt * n), n, tail, opts);
    const score = validationPearson(masks, margins, n, mt, m, r.attributions, r.bias);
    validation.push({ tail, validationPearson: score });
  }
  // the first best: candidates are tried in the order given
  const best = validation.reduce((a, v) => (v.validationPearson > a.validationPearson ? v : a), validation[0]!);
  opts.progress?.(`shared prior: nu = ${best.tail} (mean validation Pearson ${best.validationPearson.toFixed(4)}); refit on all ${m} rows`);
  const r = await fitSharedTail(ctx, masks, margins, n, best.tail, opts);
  // JSON has no Infinity: the Gaussian is written as null
  const tailJson = (t: number) => (Number.isFinite(t) ? t : null);
  return {
    ...r,
    details: { ...r.details, tail: tailJson(best.tail), validationRows: m - mt, validation: validation.map((v) => ({ tail: tailJson(v.tail), validationPearson: v.validationPearson })) },
  };
}

/** The first `rows` rows of packed masks (the same packing and bits). */
export function prefixMasks(masks: PackedMasks, rows: number): PackedMasks {
  return { ...masks, rows, bits: masks.bits.subarray(0, rows * masks.wordsPerRow) };
}

/** Mean over examples of the Pearson correlation between true and predicted margins on rows [r0, r1) (0 for an example where it is undefined). */
export function validationPearson(masks: PackedMasks, margins: Float32Array, n: number, r0: number, r1: number, attributions: Float32Array, bias: Float32Array): number {
  const k = r1 - r0, C = masks.components, words = masks.wordsPerRow;
  const predicted = new Float64Array(k * n), truth = new Float64Array(k * n);
  for (let i = 0; i < k; i++) {
    const o = (r0 + i) * words;
    for (let e = 0; e < n; e++) { predicted[i * n + e] = bias[e]!; truth[i * n + e] = margins[(r0 + i) * n + e]!; }
    for (let j = 0; j < C; j++) {
      const set = (masks.bits[o + (j >>> 5)]! >>> (j & 31)) & 1;
      if ((masks.flipped ? 1 - set : set) === 0) continue;
      for (let e = 0; e < n; e++) predicted[i * n + e]! += attributions[j * n + e]!;
    }
  }
  let sum = 0;
  for (let e = 0; e < n; e++) {
    const x = Float64Array.from({ length: k }, (_, i) => truth[i * n + e]!);
    const y = Float64Array.from({ length: k }, (_, i) => predicted[i * n + e]!);
    const r = pearson(x, y);
    sum += Number.isFinite(r) ? r : 0;
  }
  return sum / n;
}

/** The shared fit with the Student t prior of `nu` degrees of freedom (Infinity: Gaussian). */
async function fitSharedTail(ctx: GpuContext, masks: PackedMasks, margins: Float32Array, n: number, nu: number, opts: SharedOptions): Promise<EstimatorResult> {
  const m = masks.rows, C = masks.components;
  const cp = Math.ceil(C / 4) * 4, n4 = Math.ceil(n / 4), nw = n4 * 4;
  const maxIter = opts.maxIter ?? 50, tol = opts.tol ?? 1e-4, cgTol = opts.cgTol ?? 1e-6;
  const stats = bitStatistics(masks, 0, m);
  const target = standardizeTargets(margins, m, n, 0, m, true);
  const words = masks.wordsPerRow;
  const bwords = Math.ceil(m / 32);
  checkBitsFit(ctx, masks, 'shared');
  const arena = new Arena(ctx);
  const device = ctx.device;
  return checkedOnDevice(ctx, 'in the shared fit', async () => {
    try {
      // Z P and Z^T Q over all rows, from the bits (the network kernels with n4 columns for hidden units)
      const shape: NetShape = { rows: m, row0: 0, components: C, words, d4: n4, g4: n4, examples: n, bwords };
      const uniform = arena.uniform(uniformBuffer(device, new Uint32Array(netParams(shape)), 'shared params'));
      const variant = { relu: false, grouped: false };
      const b = {
        bits: arena.upload(masks.bits.subarray(0, m * words), 'shared mask bits'),
        rowIdx: arena.upload(Uint32Array.from({ length: m }, (_, i) => i), 'shared rows'),
        tbits: arena.create(C * bwords * 4, 'shared bits by component'),
        invStd: arena.upload(Float32Array.from(stats.invStd), 'shared inv std'),
        meanU: arena.upload(Float32Array.from(stats.meanU), 'shared mean'),
        b1: arena.create(nw * 4, 'shared zeros'),
        q: arena.create(nw * 4, 'shared q'),
        h: arena.create(m * nw * 4, 'shared Z P'),
        gb1: arena.create(nw * 4, 'shared column sums'),
        gw1: arena.create(cp * nw * 4, 'shared Z^T Q'),
      };
      run(ctx, [netDispatch(ctx, 'transpose_bits', variant, uniform, { bits: b.bits, rowIdx: b.rowIdx, tbits: b.tbits }, C * bwords)]);
      const transposed = (q: GPUBuffer): Dispatch[] => [
        netDispatch(ctx, 'grad_b1', variant, uniform, { dpre: q, gb1: b.gb1 }, n4),
        netDispatch(ctx, 'grad_w1', variant, uniform, { tbits: b.tbits, invStd: b.invStd, meanU: b.meanU, dpre: q, gw1: b.gw1, gb1: b.gb1 }, C * n4),
      ];
      // the prior's penalty sigma_e^2 tau_je / s_j for every (component, example)
      const penalty = arena.create(cp * nw * 4, 'shared penalty');
      const priorUniform = arena.uniform(uniformBuffer(device, [cp, n4], 'shared prior params'));
      const op: Operator = {
        prepare: (x, _lambda, out) => [
          ...forwardHidden(ctx, variant, shape, uniform, { ...b, w1: x }),
          ...transposed(b.h),
          addPenalty(ctx, priorUniform, cp, n4, { a: b.gw1, x, d: penalty, out }),
        ],
      };
      // B = Z^T T
      const tBuf = arena.upload(target.values, 'shared targets');
      run(ctx, transposed(tBuf));
      const B = await readF32(ctx, b.gw1, cp * nw);
      const rhs = arena.create(cp * nw * 4, 'shared rhs');
      const x = arena.create(cp * nw * 4, 'shared attributions');
      const zeros = arena.create(nw * 4, 'shared zero lambda');

      // EM on the marginal likelihood
      const gjj = Float64Array.from({ length: C }, (_, j) => (stats.invStd[j]! > 0 ? m : 0));
      const mu = new Float64Array(C);
      const s = new Float64Array(C).fill(1 / C);
      const s2 = new Float64Array(n).fill(0.5);
      const tau = new Float64Array(C * n).fill(1);
      const d = new Float32Array(cp * nw).fill(1);
      const rhsHost = new Float32Array(cp * nw);
      let M: Float32Array = new Float32Array(cp * nw);
      const cg = new CgWorkspace(arena, cp, n4);
      let iterations = 0, cgIterations = 0, converged = false;
      const started = Date.now();
      for (let it = 1; it <= maxIter; it++) {
        iterations = it;
        for (let j = 0; j < C; j++) {
          for (let e = 0; e < n; e++) {
            const pen = (s2[e]! * tau[j * n + e]!) / s[j]!;
            d[j * nw + e] = pen;
            rhsHost[j * nw + e] = B[j * nw + e]! + pen * mu[j]!;
          }
        }
        device.queue.writeBuffer(penalty, 0, d);
        device.queue.writeBuffer(rhs, 0, rhsHost);
        const r = await conjugateGradient(cg, op, rhs, zeros, x, { tol: cgTol, maxIter: 4 * cp });
        cgIterations += r.iterations;
        const prev = M;
        M = await readF32(ctx, x, cp * nw);
        // M-step. The posterior variance of w_je is taken as 1 / (G_jj / sigma_e^2 + tau_je / s_j)
        // (Z^T Z is nearly diagonal for i.i.d. masks); the residual |t_e - Z m_e|^2 is
        // t_e^T t_e - 2 m^T B + m^T G m, with G m = rhs - D m from the solved system.
        const res = new Float64Array(n), trace = new Float64Array(n), post = new Float64Array(n);
        for (let j = 0; j < C; j++) {
          let num = 0, den = 0, acc = 0;
          for (let e = 0; e < n; e++) {
            const w = M[j * nw + e]!;
            const k = j * n + e;
            const pd = 1 / (gjj[j]! / s2[e]! + tau[k]! / s[j]!);
            post[e] = pd;
            // heavy tails (Student t with nu degrees of freedom as a scale mixture): E[tau | w]
            if (Number.isFinite(nu)) tau[k] = (nu + 1) / (nu + ((w - mu[j]!) ** 2 + pd) / s[j]!);
            num += tau[k]! * w;
            den += tau[k]!;
            trace[e]! += gjj[j]! * pd;
            res[e]! += w * (rhsHost[j * nw + e]! - d[j * nw + e]! * w) - 2 * w * B[j * nw + e]!;
          }
          mu[j] = num / den;
          for (let e = 0; e < n; e++) acc += tau[j * n + e]! * ((M[j * nw + e]! - mu[j]!) ** 2 + post[e]!);
          s[j] = Math.max(acc / n, 1e-12);
        }
        let change = 0, size = 0;
        for (let i = 0; i < M.length; i++) { change = Math.max(change, Math.abs(M[i]! - prev[i]!)); size = Math.max(size, Math.abs(M[i]!)); }
        for (let e = 0; e < n; e++) s2[e] = Math.max((m + res[e]! + trace[e]!) / m, 1e-6);
        opts.progress?.(`shared prior, EM iteration ${it}: largest change ${(change / Math.max(size, 1e-30)).toExponential(2)}, ${r.iterations} CG iterations (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        if (change <= tol * size) { converged = true; break; }
      }
      const raw = toRawUnits(M, nw, new Float64Array(n), n, masks, stats.meanU, stats.invStd, target);
      const noise = Array.from(s2);
      return {
        ...raw,
        details: {
          tail: Number.isFinite(nu) ? nu : null, emIterations: iterations, converged, cgIterations,
          priorMeanNorm: Math.sqrt(mu.reduce((a, v) => a + v * v, 0)),
          noiseVarianceMedian: noise.sort((a, b2) => a - b2)[Math.floor(n / 2)],
        },
      };
    } finally {
      arena.destroy();
    }
  });
}
