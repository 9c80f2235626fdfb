/**
 * A queue worker: takes jobs (job.ts) one at a time, loads the model and examples each names
 * from this machine's files, proves they are the ones the sweep was made with (sha256 of the
 * weights and inputs, hash of the component table and labels) and computes the rows'
 * margins with the plain sweep's own function (computeRows), on its own adapter. A job it
 * cannot serve fails with the reason; it never returns margins of other inputs.
 */
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { Ablator } from '../coar/ablate.js';
import { loadExamples, sha256File, type DataSpec } from '../coar/examples.js';
import { computeRows } from '../coar/sweep.js';
import { UserError } from '../errors.js';
import { GpuContext } from '../gpu/context.js';
import type { GpuOptions } from '../gpu/device.js';
import { floatToHalf } from '../io/f16.js';
import { loadModel } from '../models/index.js';
import type { Network } from '../models/network.js';
import { FIT_JOB_FORMAT, validateFitJob, type FitResult } from './fit_job.js';
import { FitServers, runFitJob } from './fit_worker.js';
import { componentsHash, decodeIndices, encodeMargins, labelsHash, QUEUE_NAME, validateJob, type RowsResult, type SweepJob } from './job.js';
import { ioredisOptions, type QueueConnection } from './url.js';

export interface WorkerOptions {
  connection: QueueConnection;
  /** name shown at the coordinator (default host:pid) */
  name?: string;
  /** look for weights here by file name, instead of the path the coordinator saw */
  weightsDir?: string;
  /** look for the examples (.npy files, image folders, Fashion-MNIST) here by name */
  dataRoot?: string;
  /** stop after this many jobs (0: no limit) */
  maxJobs: number;
  /** stop after this many seconds without a job (0: never) */
  idleExitSeconds: number;
  /** BullMQ: how long a job's lock lasts without renewal (a dead worker's job is free again after it), ms */
  lockDurationMs: number;
  /** BullMQ: how often stalled jobs are looked for, ms */
  stalledIntervalMs: number;
  /** after failing a job for want of the right files, take no job for this long, so that other workers take the sweep's jobs, ms */
  failPauseMs: number;
  gpu: GpuOptions;
}

/** 'rows' of a sweep, or 'examples' of a fit */
export type JobKind = 'rows' | 'examples';

export interface WorkerCallbacks {
  onJob?: (info: { kind: JobKind; first: number; count: number; sweep: string }) => void;
  onDone?: (info: { kind: JobKind; first: number; count: number; seconds: number; jobs: number; rows: number }) => void;
  onFailed?: (info: { kind: JobKind; first: number; count: number; reason: string }) => void;
  onLoaded?: (info: { sweep: string; arch: string; weights: string; examples: number }) => void;
  /** Redis unreachable or another connection error; the worker keeps retrying */
  onConnectionError?: (message: string) => void;
}

/** A sweep's model and examples on the device, kept while jobs of that sweep come. */
interface Loaded { sweep: string; ablator: Ablator; net: Network; n: number }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
const shortHash = (h: string) => `${h.slice(0, 12)}…`;

function weightsPath(job: SweepJob, o: WorkerOptions): string {
  return o.weightsDir !== undefined ? join(o.weightsDir, basename(job.model.file)) : job.model.path;
}

function localData(d: DataSpec, root: string | undefined): DataSpec {
  if (root === undefined) return d;
  if (d.source === 'npy') return { ...d, inputs: join(root, basename(d.inputs)), labels: join(root, basename(d.labels)) };
  if (d.source === 'fashion-mnist') return { ...d, folder: root };
  return { ...d, path: join(root, basename(d.path)) };
}

/** Run until --max-jobs, --idle-exit, or stop() (SIGTERM): the job in hand is finished first. */
export function startWorker(o: WorkerOptions, cb: WorkerCallbacks = {}): { done: Promise<{ jobs: number; rows: number; examples: number }>; stop: (now?: boolean) => Promise<void> } {
  const name = o.name ?? `${hostname()}:${process.pid}`;
  const contexts = new Map<string, Promise<GpuContext>>();
  const hashes = new Map<string, string>();
  let loaded: Loaded | null = null;
  let jobs = 0, rows = 0, examples = 0, lastActive = performance.now(), inJob = false;
  let stopping: Promise<void> | null = null;
  // the fit process, kept between the jobs of one fit
  const fits = new FitServers(o.gpu);

  const hashOf = (p: string) => {
    let h = hashes.get(p);
    if (!h) { h = sha256File(p); hashes.set(p, h); }
    return h;
  };

  const load = async (job: SweepJob): Promise<Loaded> => {
    if (loaded?.sweep === job.sweep) return loaded;
    loaded?.ablator.destroy(); loaded?.net.destroy(); loaded = null;
    const wp = weightsPath(job, o);
    const wh = hashOf(wp);
    if (wh !== job.model.sha256) throw new UserError(`${wp} has sha256 ${shortHash(wh)}, the sweep's weights have ${shortHash(job.model.sha256)}: give --weights-dir a folder holding the sweep's ${job.model.file}`);
    const model = loadModel(job.model.arch, wp);
    if (componentsHash(model.components.names()) !== job.componentsSha256) throw new UserError(`${wp}: its ${job.model.arch} component table (${model.components.size} components) is not the sweep's (${job.components})`);
    const spec = localData(job.data, o.dataRoot);
    if (spec.source === 'npy') {
      const ih = hashOf(spec.inputs);
      if (ih !== spec.inputsSha256) throw new UserError(`${spec.inputs} has sha256 ${shortHash(ih)}, the sweep's inputs have ${shortHash(spec.inputsSha256)}: give --data-root a folder holding the sweep's ${basename(spec.inputs)}`);
    }
    const indices = decodeIndices(job.examples);
    const ex = await loadExamples(spec, model, { indices });
    if (ex.indices.length !== indices.length || labelsHash(ex.labels) !== job.labelsSha256) throw new UserError(`the examples loaded here (${ex.indices.length}) are not the sweep's (${indices.length}, labels sha256 ${shortHash(job.labelsSha256)}): the data under ${o.dataRoot ?? 'the sweep\'s paths'} differ`);
    let ctx = contexts.get(job.precision);
    if (!ctx) { ctx = GpuContext.open({ ...o.gpu, precision: job.precision }); contexts.set(job.precision, ctx); }
    const net = model.build(await ctx, ex.shape);
    // the plain sweep's batch plan: masks per batch from --chunk, as its Ablator gets it
    const ablator = new Ablator(await ctx, net, ex.inputs, ex.labels, job.chunk);
    loaded = { sweep: job.sweep, ablator, net, n: ex.shape.n };
    cb.onLoaded?.({ sweep: job.sweep, arch: job.model.arch, weights: wp, examples: ex.shape.n });
    return loaded;
  };

  const failed = (e: unknown, kind: JobKind, first: number, count: number): Error => {
    const reason = `worker ${name}: ${e instanceof Error ? e.message : String(e)}`;
    cb.onFailed?.({ kind, first, count, reason });
    if (e instanceof UserError && o.failPauseMs > 0 && !stopping) {
      // our files are wrong for this job: step aside so that other workers take its jobs
      worker.pause(true);
      setTimeout(() => { if (!stopping) worker.resume(); }, o.failPauseMs);
    }
    return new Error(reason);
  };

  const fitProcessor = async (bull: Job): Promise<FitResult> => {
    let job;
    try { job = validateFitJob(bull.data); } catch (e) { throw new UnrecoverableError(`worker ${name}: invalid job: ${(e as Error).message}`); }
    cb.onJob?.({ kind: 'examples', first: job.first, count: job.count, sweep: job.fit });
    inJob = true;
    try {
      const r = await runFitJob(job, fits, name);
      jobs++; examples += job.count;
      cb.onDone?.({ kind: 'examples', first: job.first, count: job.count, seconds: r.seconds, jobs, rows });
      if (o.maxJobs > 0 && jobs >= o.maxJobs) void stop();
      return r;
    } catch (e) {
      throw failed(e, 'examples', job.first, job.count);
    } finally {
      inJob = false;
      lastActive = performance.now();
    }
  };

  const processor = async (bull: Job): Promise<RowsResult | FitResult> => {
    if (bull.name === 'fit' || (bull.data as { format?: unknown } | null)?.format === FIT_JOB_FORMAT) return fitProcessor(bull);
    let job: SweepJob;
    // a malformed job fails for good: no worker could run it
    try { job = validateJob(bull.data); } catch (e) { throw new UnrecoverableError(`worker ${name}: invalid job: ${(e as Error).message}`); }
    cb.onJob?.({ kind: 'rows', first: job.first, count: job.count, sweep: job.sweep });
    inJob = true;
    const t0 = performance.now();
    try {
      const l = await load(job);
      const margins = await computeRows(l.ablator, job, job.first, job.count, job.components);
      const out = job.dtype === 'f2' ? Uint16Array.from(margins, (v) => floatToHalf(v)) : margins;
      const seconds = (performance.now() - t0) / 1000;
      jobs++; rows += job.count;
      cb.onDone?.({ kind: 'rows', first: job.first, count: job.count, seconds, jobs, rows });
      if (o.maxJobs > 0 && jobs >= o.maxJobs) void stop();
      return { worker: name, seconds, margins: encodeMargins(out) };
    } catch (e) {
      throw failed(e, 'rows', job.first, job.count);
    } finally {
      inJob = false;
      lastActive = performance.now();
    }
  };

  const worker = new Worker(QUEUE_NAME, processor, {
    connection: ioredisOptions(o.connection), concurrency: 1, autorun: true,
    lockDuration: o.lockDurationMs, stalledInterval: o.stalledIntervalMs, maxStalledCount: 10,
  });
  // while Redis is away ioredis reconnects; the worker carries on when it is back
  worker.on('error', (e) => cb.onConnectionError?.(e.message));

  let finish!: (v: { jobs: number; rows: number; examples: number }) => void;
  const done = new Promise<{ jobs: number; rows: number; examples: number }>((r) => { finish = r; });
  const stop = (now = false): Promise<void> => {
    // at once: the job in hand is left to its lock, which lapses, and another worker takes it
    if (now) { fits.close(); return Promise.race([worker.close(true), sleep(2000)]); }
    stopping ??= (async () => {
      clearInterval(idle);
      // close() waits for the job in hand, whose margins go back before we leave; without
      // one, nothing is owed, and a Redis that is down must not keep us here
      if (inJob) await worker.close();
      else await Promise.race([worker.close(true), sleep(2000)]);
      fits.close();
      loaded?.ablator.destroy(); loaded?.net.destroy();
      for (const c of contexts.values()) (await c.catch(() => null))?.destroy();
      finish({ jobs, rows, examples });
    })();
    return stopping;
  };
  const idle = setInterval(() => {
    if (o.idleExitSeconds > 0 && !inJob && performance.now() - lastActive > o.idleExitSeconds * 1000) void stop();
  }, 200);
  return { done, stop };
}
