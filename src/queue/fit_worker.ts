/**
 * A worker's fit job: open the store the job names (on the shared file system), prove it is
 * the coordinator's (rows used, sizes, manifest hash), then fit the job's slice exactly as
 * `coar fit --examples a:b` does, with the coordinator's solver; the columns go back as raw
 * float32 bytes. The fit runs in a child process (bin/fit-server.js): its host steps
 * (packing the masks, a Cholesky factor) hold the event loop for seconds to minutes, which in
 * this process would starve the renewal of the job's lock, and BullMQ would give a live job
 * to another worker. The child lives as long as jobs of one fit come, so that the process
 * start, the device, the store and the packed masks are paid once per fit, not per job; a job
 * of another fit replaces it, a failed job retires it (the next job starts a fresh one), and
 * it leaves when this process dies (its IPC channel closes; COAR_WORKER_PID).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { openStore } from '../coar/store.js';
import type { GpuOptions } from '../gpu/device.js';
import { storeFacts, storeMismatch, type FitJob, type FitResult } from './fit_job.js';
import type { FitReply, FitRequest, SliceResult } from './fit_slices.js';

const SERVER = fileURLToPath(new URL('../../bin/fit-server.js', import.meta.url));

interface Server { fit: string; child: ChildProcess; stderr: () => string; exited: Promise<string> }

/** The worker's fit process: one per fit, kept between its jobs. */
export class FitServers {
  private server: Server | undefined;

  // the adapter flags a per-job `coar fit` was given: the fit's device, as there
  private readonly gpu: GpuOptions;
  constructor(gpu: GpuOptions) { this.gpu = { backend: gpu.backend, adapter: gpu.adapter }; }

  /** The live child, if any (the worker kills it when it must leave at once). */
  get child(): ChildProcess | undefined { return this.server?.child; }

  private start(fit: string): Server {
    const child = fork(SERVER, [], {
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, COAR_WORKER_PID: String(process.pid) },
    });
    let stderr = '';
    const keep = (d: Buffer) => { stderr = (stderr + d).slice(-4000); };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    // a send to a process that has just died fails here; its exit fails the job in hand
    child.on('error', () => {});
    // 'close': after its last output, which names why it died
    const exited = new Promise<string>((r) => child.on('close', (code, signal) => r(`exited ${code ?? signal}`)));
    const s: Server = { fit, child, stderr: () => stderr, exited };
    void exited.then(() => { if (this.server === s) this.server = undefined; });
    return s;
  }

  /** Fit the job's slice in the child of its fit; a crash fails this job only. */
  async slice(job: FitJob): Promise<SliceResult> {
    const live = this.server && this.server.child.exitCode === null && this.server.child.signalCode === null;
    if (!live || this.server!.fit !== job.fit) { this.close(); this.server = this.start(job.fit); }
    const s = this.server!;
    const request: FitRequest = { job, gpu: this.gpu };
    const reply = new Promise<FitReply>((r) => s.child.once('message', (m) => r(m as FitReply)));
    const unsent = new Promise<string>((r) => s.child.send(request, (e) => { if (e) r(`could not be given the job (${e.message})`); }));
    const answer = await Promise.race([reply, s.exited, unsent]);
    if (typeof answer === 'string') {
      this.close();
      const last = s.stderr().trim().split('\n').filter((l) => l.trim()).pop() ?? '';
      throw new Error(`the fit process of examples ${job.first}-${job.first + job.count - 1} ${answer}${last ? `: ${last}` : ''}`);
    }
    if (!answer.ok) {
      // the device may be left in any state: the next job starts a fresh process
      this.close();
      throw new Error(`coar fit of examples ${job.first}-${job.first + job.count - 1} failed: ${answer.message}`);
    }
    return answer.result;
  }

  /** End the child (it ends on its own when this process dies). */
  close(): void {
    const s = this.server;
    this.server = undefined;
    if (s && s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  }
}

export async function runFitJob(job: FitJob, servers: FitServers, worker: string): Promise<FitResult> {
  const t0 = performance.now();
  if (!existsSync(job.store.path)) throw new UserError(`store ${job.store.path} is not on this machine: fit workers read the coordinator's store on a shared file system, at the same path`);
  const store = openStore(job.store.path, { split: job.store.split });
  try {
    const why = storeMismatch(job.store, storeFacts(store));
    if (why) throw new UserError(`store ${job.store.path} is not the coordinator's: ${why}`);
  } finally { store.close(); }
  const r = await servers.slice(job);
  return { worker, seconds: (performance.now() - t0) / 1000, ...r };
}
