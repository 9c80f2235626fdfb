/** A progress bar on stderr with throughput and ETA (silent when stderr is not a terminal). */
import cliProgress from 'cli-progress';

export interface Progress { update(done: number): void; stop(): void }

export function progressBar(label: string, total: number, unit = 'passes'): Progress {
  if (!process.stderr.isTTY || total <= 0) return { update() {}, stop() {} };
  const start = Date.now();
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} {bar} {percentage}% | {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted}`,
    hideCursor: true,
    etaBuffer: 20,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { rate: '0' });
  return {
    update(done) {
      const s = (Date.now() - start) / 1000;
      bar.update(done, { rate: s > 0 ? (done / s).toFixed(1) : '0' });
    },
    stop() { bar.stop(); },
  };
}
