import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis, Cluster, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';

export type RedisClient = Redis | Cluster;

export type RedisRole =
  /** API commands: fail fast while Redis is down so the API answers 503 instead of hanging. */
  | 'command'
  /** BullMQ workers and subscribers: wait for Redis to come back (BullMQ requires maxRetriesPerRequest null). */
  | 'blocking';

function clusterNodes(config: Config): { host: string; port: number }[] | undefined {
  return config.redisClusterNodes?.map((n) => {
    const [host, port] = n.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port) };
  });
}

/** The one place that knows whether we talk to a single Redis or a Redis Cluster. */
export function createRedis(
  config: Config,
  role: RedisRole,
  name?: string,
  o: { autoPipelining?: boolean } = {},
): RedisClient {
  const nodes = clusterNodes(config);
  const options: RedisOptions = {
    connectionName: name,
    maxRetriesPerRequest: role === 'command' ? 1 : null,
    // Reconnect at most 200 ms apart: work resumes within a fraction of a second of Redis coming back
    // (a refused connect costs nothing; a longer back-off was most of the outage after a restart).
    retryStrategy: (times) => Math.min(times * 50, RECONNECT_MAX_MS),
    connectTimeout: 2000,
    // A request must answer 503 within 2 s while Redis is away, never hang on a lost connection. A
    // Cluster client queues commands while it (re)loads the slot map and follows redirections, which
    // under load takes longer than that: it gets a longer bound.
    ...(role === 'command'
      ? { commandTimeout: nodes ? CLUSTER_COMMAND_TIMEOUT_MS : COMMAND_TIMEOUT_MS }
      : {}),
    // Commands issued in the same tick share one write: fewer system calls on the hot paths. (With
    // tracing on, each pipelined command keeps its own caller's trace: shared/tracing/sdk.ts.) Not
    // on a client BullMQ defines its scripts on (`o.autoPipelining` false): ioredis copies every
    // defined script onto each pipeline it builds, one per tick (64 for BullMQ).
    enableAutoPipelining: role === 'command' && !nodes && o.autoPipelining !== false,
  };
  if (nodes) {
    const cluster = new Cluster(nodes, {
      redisOptions: options,
      enableOfflineQueue: true,
      // (Auto-pipelining is single-node only: in a Cluster ioredis refuses a pipeline whose commands
      // fall in different slots, which concurrent requests for several performances would build.)
      clusterRetryStrategy: (times) => Math.min(times * 50, RECONNECT_MAX_MS),
      scaleReads: 'master',
    });
    cluster.on('error', (err: Error) => lastErrors.set(cluster, err));
    return cluster;
  }
  const client = new Redis(config.redisUrl, options);
  client.on('error', (err: Error) => lastErrors.set(client, err));
  if (role === 'command')
    // Until the first connection commands wait for it (start-up); after it, a command issued while
    // the connection is lost fails at once (503) instead of queueing behind the reconnect attempts.
    client.once('ready', () => {
      client.options.enableOfflineQueue = false;
    });
  return client;
}

const RECONNECT_MAX_MS = 200;

/** A command client gives up on an answer after this long. */
export const COMMAND_TIMEOUT_MS = 1500;
export const CLUSTER_COMMAND_TIMEOUT_MS = 5000;

const lastErrors = new WeakMap<RedisClient, Error>();

/** The last connection error a client reported (for naming why Redis is unreachable). */
export function lastRedisError(client: RedisClient): Error | undefined {
  return lastErrors.get(client);
}

/** Keys of a performance share one Redis Cluster hash slot through this tag. */
export function performanceTag(performanceId: number): string {
  return `{perf-${performanceId}}`;
}

export type Script = { lua: string; sha: string };

export function defineScript(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** A script kept in a `.lua` file next to the code that owns its keys. */
export function loadScript(url: URL): Script {
  return defineScript(readFileSync(url, 'utf8'));
}

/** EVALSHA, falling back to EVAL once when the server does not know the script yet (new or restarted). */
export async function runScript(
  redis: RedisClient,
  script: Script,
  keys: string[],
  args: string[],
): Promise<unknown> {
  try {
    return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (err instanceof Error && err.message.includes('NOSCRIPT'))
      return redis.eval(script.lua, keys.length, ...keys, ...args);
    throw err;
  }
}
