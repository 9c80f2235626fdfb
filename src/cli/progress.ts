/**
 * Progress of a long stage on stderr: a bar with rate and ETA on a terminal; elsewhere (CI,
 * logs, batch schedulers) one plain line every COAR_PROGRESS_SECONDS (default 30), so a log
 * shows the work moving without a line per batch.
 */
import cliProgress from 'cli-progress';

export interface Progress { update(done: number): void; stop(): void }

const NONE: Progress = { update() {}, stop() {} };

function interval(): number {
  const v = Number(process.env.COAR_PROGRESS_SECONDS);
  return Number.isFinite(v) && v >= 0 ? v : 30;
}

const clock = (s: number) => {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60), h = Math.floor(m / 60);
  return h ? `${h}h${String(m % 60).padStart(2, '0')}m` : m ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
};

/** A progress display for `total` units of work; `quiet` shows nothing. */
export function progressBar(label: string, total: number, unit = 'passes', quiet = false): Progress {
  if (quiet || total <= 0) return NONE;
  const start = Date.now();
  const rate = (done: number) => { const s = (Date.now() - start) / 1000; return s > 0 ? done / s : 0; };
  if (!process.stderr.isTTY) {
    const every = interval() * 1000;
    let last = start;
    return {
      update(done) {
        const now = Date.now();
        if (now - last < every || done >= total) return;
        last = now;
        const r = rate(done);
        process.stderr.write(`${label}: ${Math.floor((100 * done) / total)}% (${done}/${total} ${unit}), ${r.toFixed(1)} ${unit}/s, ETA ${clock((total - done) / r)}\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} {bar} {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
    hideCursor: true,
    etaBuffer: 20,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { rate: '0' });
  return {
    update(done) { bar.update(done, { rate: rate(done).toFixed(1) }); },
    stop() { bar.stop(); },
  };
}
