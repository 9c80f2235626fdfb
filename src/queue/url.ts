/**
 * `--queue redis://[user:password@]HOST[:PORT][/DB]` or `rediss://…` (TLS) as ioredis
 * connection options. The password never appears in what we print (`shown`).
 */
import { UserError } from '../errors.js';

export interface QueueConnection {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  /** set for rediss://: TLS, the certificate checked against `servername` */
  tls?: { servername: string };
  /** the URL with the password replaced by *** */
  shown: string;
}

export function parseQueueUrl(text: string): QueueConnection {
  const bad = (why: string) => new UserError(`--queue ${redact(text)}: ${why}; use redis://[user:password@]HOST[:PORT][/DB] or rediss://… for TLS`);
  let u: URL;
  try { u = new URL(text); } catch { throw bad('not a URL'); }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw bad(`scheme ${u.protocol.replace(':', '')} is not redis or rediss`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw bad('no host');
  const port = u.port === '' ? 6379 : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${u.port} is out of range`);
  const path = u.pathname.replace(/^\//, '');
  if (!/^\d{0,5}$/.test(path)) throw bad(`database '${path}' is not a number`);
  const db = path === '' ? 0 : Number(path);
  if (u.search || u.hash) throw bad('query strings and fragments are not understood');
  const out: QueueConnection = { host, port, db, shown: redact(text) };
  // URL keeps user info percent-encoded; a password may hold any byte
  const decode = (s: string, what: string) => { try { return decodeURIComponent(s); } catch { throw bad(`its ${what} is not valid percent-encoding`); } };
  if (u.username) out.username = decode(u.username, 'user name');
  if (u.password) out.password = decode(u.password, 'password');
  if (u.protocol === 'rediss:') out.tls = { servername: host };
  return out;
}

/** The connection as ioredis takes it; `maxRetriesPerRequest: null` makes commands wait through a Redis restart (BullMQ requires it). */
export function ioredisOptions(c: QueueConnection): Record<string, unknown> {
  const o: Record<string, unknown> = { host: c.host, port: c.port, db: c.db, maxRetriesPerRequest: null };
  if (c.username !== undefined) o.username = c.username;
  if (c.password !== undefined) o.password = c.password;
  if (c.tls) o.tls = { servername: c.tls.servername };
  return o;
}

/** The URL as it may be printed: a password becomes ***. */
export function redact(text: string): string {
  return text.replace(/^(rediss?:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}
