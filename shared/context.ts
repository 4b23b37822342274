import type { Sequelize } from 'sequelize';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { createRedis, lastRedisError, type RedisClient } from './redis.js';
import { UnreachableError, mysqlAddress, networkReason, redisAddress } from './failure.js';
import { openSequelize } from './db/sequelize.js';
import { PerformanceQueues } from './queues/performance-queues.js';
import { WaitingRoom } from './waiting-room/waiting-room.js';
import { SimulatedPaymentGateway } from './payments/gateway.js';
import { Catalogue } from './catalogue/catalogue.service.js';
import { Fairness } from './fairness/fairness.service.js';
import { isInfrastructureError } from './errors.js';
import { channelNamespace, claimRedisKeys, readDeploymentId } from './deployment.js';

/** What an API or worker process holds open: built once at start, closed once at the end. */
export type Context = {
  config: Config;
  logger: Logger;
  sequelize: Sequelize;
  redis: RedisClient;
  queues: PerformanceQueues;
  waitingRoom: WaitingRoom;
  payments: SimulatedPaymentGateway;
  catalogue: Catalogue;
  /** The draw and the admission log. */
  fairness: Fairness;
  /** Prefix of this deployment's pub/sub channels; set by `bindDeployment` before serving. */
  channels: string;
  close(): Promise<void>;
};

/**
 * Reads the deployment id of the database, checks that the Redis keys under the prefix are this
 * deployment's, and namespaces the pub/sub channels with it. Before any request or job is served.
 */
export async function bindDeployment(ctx: Context, waitMs = startupWaitMs()): Promise<void> {
  // MySQL or Redis may still be starting (or restarting): wait for them a few seconds, then stop
  // saying which one is missing rather than waiting silently.
  let gaveUp = false;
  let lastErr: unknown;
  const attempt = async (): Promise<void> => {
    for (;;) {
      try {
        const id = await readDeploymentId(ctx.sequelize);
        await claimRedisKeys(ctx.redis, ctx.config.keyPrefix, id);
        if (gaveUp) return;
        ctx.channels = channelNamespace(ctx.config, id);
        ctx.waitingRoom.channels = ctx.channels;
        return;
      } catch (err) {
        const denied = err instanceof Error && err.name === 'SequelizeAccessDeniedError';
        if (!isInfrastructureError(err) || denied || gaveUp) throw err;
        lastErr = err;
        ctx.logger.debug({ err }, 'waiting for MySQL and Redis to read the deployment');
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), waitMs)));
  try {
    const run = attempt();
    run.catch(() => undefined);
    if ((await Promise.race([run, timedOut])) === 'timeout') {
      gaveUp = true;
      throw await whyUnreachable(ctx, lastErr, waitMs);
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How long a process waits for MySQL and Redis at start-up: until 6 s after the process began (so
 * start-up, module loading included, stops within 10 s), at least 1.5 s.
 */
export function startupWaitMs(): number {
  return Math.max(1500, 6000 - process.uptime() * 1000);
}

/** Which of MySQL and Redis does not answer, as one sentence naming host:port. */
async function whyUnreachable(ctx: Context, err: unknown, waitMs: number): Promise<Error> {
  const within = <T>(p: Promise<T>) =>
    Promise.race([
      p,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer')), 1000)),
    ]);
  const [mysql, redis] = await Promise.allSettled([
    within(ctx.sequelize.query('SELECT 1')),
    ctx.redis.status === 'ready' ? within(ctx.redis.ping()) : Promise.reject(new Error('not connected')),
  ]);
  const down: string[] = [];
  if (mysql.status === 'rejected')
    down.push(
      `MySQL at ${mysqlAddress(ctx.config.databaseUrl)} (${networkReason(mysql.reason) ?? shortReason(mysql.reason)})`,
    );
  if (redis.status === 'rejected') {
    const reason =
      networkReason(lastRedisError(ctx.redis)) ?? networkReason(redis.reason) ?? shortReason(redis.reason);
    down.push(`Redis at ${redisAddress(ctx.config)} (${reason})`);
  }
  if (down.length === 0)
    return err instanceof Error ? err : new Error(`start-up did not finish in ${waitMs} ms`);
  return new UnreachableError(
    `cannot reach ${down.join(' nor ')} after ${(waitMs / 1000).toFixed(1)} s; is it running? ` +
      `${mysql.status === 'rejected' ? 'DATABASE_URL' : 'REDIS_URL'} sets the address`,
  );
}

function shortReason(err: unknown): string {
  return String(err instanceof Error ? err.message : err)
    .split('\n')[0]!
    .slice(0, 120);
}

export function createContext(
  config: Config,
  name: string,
  logger = createLogger(config.logLevel, name),
): Context {
  const db = openSequelize(config, logger);
  const sequelize = db.sequelize;
  const redis = createRedis(config, 'command', `${name}-commands`);
  redis.on('error', (err) => logger.debug({ err }, 'redis error'));
  // BullMQ's queues get a client of their own: BullMQ defines its 64 scripts on the client it is
  // given, and ioredis copies them onto every auto-pipeline it builds, which made every command on
  // the shared client (the waiting room's, the holds') about a quarter dearer.
  const queueRedis = createRedis(config, 'command', `${name}-queues`, { autoPipelining: false });
  queueRedis.on('error', (err) => logger.debug({ err }, 'redis error (queues)'));
  const queues = new PerformanceQueues(queueRedis, config.keyPrefix);
  const waitingRoom = new WaitingRoom(redis, config.keyPrefix, config.admissionIdleSeconds);
  const payments = new SimulatedPaymentGateway(
    config.paymentLatencyMs,
    config.paymentDeclineRate,
    redis,
    config.keyPrefix,
  );
  const catalogue = new Catalogue(config, queues);
  const fairness = new Fairness(sequelize, waitingRoom, logger);
  // An admission made on a request's path is written to the log by the workers' writer, which hears
  // the head it published; this process writes it itself only if that has not happened shortly after.
  waitingRoom.onPending = (performanceId, ticket) => fairness.catchUp(performanceId, ticket);
  // Every process that has a queue open keeps it registered: if Redis loses its data, workers
  // (even ones started after the loss) find the queue again and restore it.
  const guard = setInterval(() => {
    queues
      .reassert()
      .then((n) => n && logger.warn({ queues: n }, 'performance queues registered again'))
      .catch((err: unknown) => logger.debug({ err }, 'queue registry check failed'));
  }, 1000);
  guard.unref();
  return {
    config,
    logger,
    sequelize,
    redis,
    queues,
    waitingRoom,
    payments,
    catalogue,
    fairness,
    channels: config.keyPrefix,
    async close() {
      clearInterval(guard);
      fairness.close();
      await queues.close();
      await db.release();
      redis.disconnect();
      queueRedis.disconnect();
    },
  };
}
