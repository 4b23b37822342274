// Fatal errors as one readable sentence: what failed and where (host:port, never a password).
import type { Config } from './config.js';

/** A backing service that could not be reached in time at start-up. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

/** `host:port` of the MySQL server of a DATABASE_URL (no user, no password). */
export function mysqlAddress(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  return `${u.hostname}:${u.port || '3306'}`;
}

/** `host:port` of the Redis of this config (every node for a Cluster), no password. */
export function redisAddress(config: Pick<Config, 'redisUrl' | 'redisClusterNodes'>): string {
  if (config.redisClusterNodes) return `the Redis Cluster at ${config.redisClusterNodes.join(',')}`;
  const u = new URL(config.redisUrl);
  return `${u.hostname}:${u.port || '6379'}`;
}

type NodeErr = Error & {
  code?: string;
  address?: string;
  port?: number;
  syscall?: string;
  parent?: NodeErr;
  original?: NodeErr;
  errors?: NodeErr[];
};

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name not resolved',
  ECONNRESET: 'connection reset',
};

/** The reason of a network error in a few words (`connection refused`), or undefined. */
export function networkReason(err: unknown): string | undefined {
  let e = err as NodeErr | undefined;
  for (let i = 0; e && i < 4; i++) {
    if (e.code && REASONS[e.code]) return REASONS[e.code];
    if (e.errors?.[0]?.code && REASONS[e.errors[0].code]) return REASONS[e.errors[0].code];
    e = e.parent ?? e.original;
  }
  const m = /(ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|ECONNRESET)/.exec(String(err));
  if (m) return REASONS[m[1]!];
  if (/Command timed out/i.test(String(err))) return 'no answer in time';
  return undefined;
}

/** One short sentence for a fatal error, for stderr. */
export function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as NodeErr;
  if (e.code === 'EADDRINUSE')
    return `port ${e.port ?? ''} is already in use (another process listens there; set PORT or WORKER_METRICS_PORT)`;
  if (e.code === 'EACCES' && e.syscall === 'listen') return `no permission to listen on port ${e.port ?? ''}`;
  if (e.name.startsWith('Sequelize')) {
    const p = e.parent ?? e.original ?? e;
    const where = p.address ? ` at ${p.address}:${p.port ?? ''}` : '';
    if (e.name === 'SequelizeAccessDeniedError')
      return `MySQL${where} refused the login: ${p.message.replace(/\s*\(using password: \w+\)/, '')} (check DATABASE_URL)`;
    const reason = networkReason(e);
    if (reason) return `cannot reach MySQL${where} (${reason}); is it running? DATABASE_URL sets the address`;
    return `MySQL error: ${firstLine(p.message)}`;
  }
  return firstLine(e.message) || e.name;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.trim();
}
