import { QueryTypes, type Sequelize } from 'sequelize';
import { hostname } from 'node:os';
import type { Config } from './config.js';
import type { RedisClient } from './redis.js';

// A deployment is one database and the Redis state that goes with it. The database gets a random
// id when it is created (migration 0004); every process reads it at start and:
// - names its pub/sub channels with it (and the Redis database index, which pub/sub ignores), so
//   two deployments on one Redis never hear each other's seat events or request completions;
// - checks that the Redis keys under its KEY_PREFIX belong to this database (`<prefix>:deployment`),
//   so a new database never runs with an old one's waiting rooms, queues and expiries.

export class DeploymentMismatchError extends Error {
  override name = 'DeploymentMismatchError';
}

export async function readDeploymentId(sequelize: Sequelize): Promise<string> {
  const [row] = await sequelize.query<{ id: string }>('SELECT id FROM deployment WHERE singleton = 1', {
    type: QueryTypes.SELECT,
  });
  if (!row) throw new Error('the database has no deployment id: run `npm run db:migrate`');
  return row.id;
}

/** The Redis database index of REDIS_URL (0 when none is given, and always 0 on a Cluster). */
export function redisDatabaseIndex(config: Config): number {
  if (config.redisClusterNodes) return 0;
  const m = /^rediss?:\/\/[^/]+\/(\d+)/.exec(config.redisUrl);
  return m ? Number(m[1]) : 0;
}

/** The prefix of this deployment's pub/sub channel names. */
export function channelNamespace(config: Config, deploymentId: string): string {
  return `${config.keyPrefix}:${deploymentId}:db${redisDatabaseIndex(config)}`;
}

export function deploymentKey(keyPrefix: string): string {
  return `${keyPrefix}:deployment`;
}

/**
 * Claims the Redis keys under the prefix for this database, or throws when they belong to another
 * one (the database was dropped and created again, or two deployments share a prefix).
 */
export async function claimRedisKeys(
  redis: RedisClient,
  keyPrefix: string,
  deploymentId: string,
): Promise<void> {
  const key = deploymentKey(keyPrefix);
  await redis.set(key, deploymentId, 'NX');
  const owner = await redis.get(key);
  if (owner !== null && owner !== deploymentId)
    throw new DeploymentMismatchError(
      `the Redis keys under KEY_PREFIX "${keyPrefix}" belong to deployment ${owner}, but this database ` +
        `is deployment ${deploymentId} (was it dropped and created again?). Run \`npm run reset\` to ` +
        'empty both together, or give this deployment its own KEY_PREFIX.',
    );
}

// Every API and worker process of the deployment says it is alive: one key per process, refreshed
// well within its TTL, so `npm run reset` can refuse to empty what a running process uses.
const HEARTBEAT_TTL_SECONDS = 15;
const HEARTBEAT_EVERY_MS = 5000;

export type ProcessKind = 'api' | 'workers';
export type LiveProcess = { kind: string; host: string; pid: number; startedAt: string };

export function processKey(keyPrefix: string, p: Pick<LiveProcess, 'kind' | 'host' | 'pid'>): string {
  return `${keyPrefix}:procs:${p.kind}:${p.host}:${p.pid}`;
}

/** Registers this process until the returned function is called (best effort while Redis is away). */
export function startHeartbeat(
  redis: RedisClient,
  keyPrefix: string,
  kind: ProcessKind,
): () => Promise<void> {
  const me: LiveProcess = { kind, host: hostname(), pid: process.pid, startedAt: new Date().toISOString() };
  const key = processKey(keyPrefix, me);
  const beat = () => redis.set(key, JSON.stringify(me), 'EX', HEARTBEAT_TTL_SECONDS).catch(() => undefined);
  void beat();
  const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await redis.del(key).catch(() => undefined);
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The processes of the deployment whose heartbeat has not expired (and, on this machine, whose pid lives). */
export async function liveProcesses(redis: RedisClient, keyPrefix: string): Promise<LiveProcess[]> {
  const found: LiveProcess[] = [];
  for (const node of 'nodes' in redis ? redis.nodes('master') : [redis]) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${keyPrefix}:procs:*`, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) {
        const v = await node.get(k);
        if (!v) continue;
        const p = JSON.parse(v) as LiveProcess;
        // A process of this machine that is gone (killed before it could say so) is not alive,
        // whatever its key says for the rest of its TTL.
        if (p.host === hostname() && !pidAlive(p.pid)) {
          await node.del(k);
          continue;
        }
        found.push(p);
      }
    } while (cursor !== '0');
  }
  return found.sort((a, b) => a.kind.localeCompare(b.kind) || a.pid - b.pid);
}
