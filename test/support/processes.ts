/**
 * Real processes for the queue tests: `coar` commands and a redis-server of the test's own on
 * a free loopback port, their output kept, and all of them SIGKILLed when the test ends or a
 * test fails (a live child would keep the test process alive).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'coar.js');

export interface Proc { proc: ChildProcess; log: () => string; exit: Promise<number | null>; waitFor: (re: RegExp, ms?: number) => Promise<RegExpMatchArray> }
export interface Redis { url: string; restart: () => Promise<void>; stop: () => Promise<void> }

export function processes(dir: string) {
  const children: ChildProcess[] = [];
  // on a failure, what every process of the test said
  const logs: (() => string)[] = [];
  const allLogs = () => logs.map((l) => l().slice(-1500)).join('\n----\n');
  const killAll = () => { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); };
  process.on('exit', killAll);

  /** `cwd`: a process that resolves a path through /proc/self/cwd sees that folder's files */
  function start(cmd: string, args: string[], opts: { cwd?: string } = {}): Proc {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd });
    children.push(proc);
    let text = '';
    proc.stdout!.on('data', (d) => { text += d; });
    proc.stderr!.on('data', (d) => { text += d; });
    const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    logs.push(() => `${args.slice(0, 2).join(' ')}:\n${text}`);
    const waitFor = async (re: RegExp, ms = 60_000) => {
      const t0 = Date.now();
      for (;;) {
        const m = text.match(re);
        if (m) return m;
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${args[1] ?? cmd} exited (${proc.exitCode ?? proc.signalCode}) before printing ${re}:\n${text}`);
        if (Date.now() - t0 > ms) throw new Error(`no ${re} within ${ms} ms:\n${allLogs()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    return { proc, log: () => text, exit, waitFor };
  }
  const startCoar = (args: string[], opts: { cwd?: string } = {}) => start(process.execPath, [BIN, ...args], opts);
  const kill = async (p: Proc, sig: NodeJS.Signals = 'SIGKILL') => { p.proc.kill(sig); await p.exit; };

  /** A redis-server of our own, without persistence: a restart loses every job. */
  async function startRedis(): Promise<Redis> {
    const port = await freePort();
    const data = join(dir, `redis-${port}`);
    mkdirSync(data);
    let p: Proc;
    const up = async () => {
      p = start('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', data, '--save', '', '--appendonly', 'no']);
      await p.waitFor(/Ready to accept connections/, 10_000);
    };
    await up();
    return { url: `redis://127.0.0.1:${port}`, restart: async () => { await kill(p); await up(); }, stop: () => kill(p) };
  }

  return { start, startCoar, kill, startRedis, killAll, allLogs };
}
