/**
 * A `coar worker`'s long-lived fit process (bin/fit-server.js, started by queue/fit_worker.ts):
 * takes the worker's fit jobs over Node IPC, one at a time, and answers each with its slice's
 * columns. The store, packed masks and device of a fit are opened with its first job and kept
 * for the next (queue/fit_slices.ts); a job of another fit is the worker's cue to start a new
 * process. It leaves when the worker does: the IPC channel closes, or its parent changes.
 */
import { FitSlices, type FitReply, type FitRequest } from '../queue/fit_slices.js';

const worker = Number(process.env.COAR_WORKER_PID);
if (worker > 0) setInterval(() => { if (process.ppid !== worker) process.exit(1); }, 500).unref();
process.on('disconnect', () => process.exit(1));

let fit: Promise<FitSlices> | undefined;
// one job at a time: the worker sends the next only after this one's reply
process.on('message', (m: FitRequest) => {
  void (async () => {
    let reply: FitReply;
    try {
      fit ??= FitSlices.open(m.job, m.gpu);
      reply = { ok: true, result: await (await fit).slice(m.job) };
    } catch (e) {
      reply = { ok: false, message: e instanceof Error ? e.message : String(e) };
    }
    process.send!(reply);
  })();
});
