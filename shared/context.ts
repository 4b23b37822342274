import type { Sequelize } from 'sequelize';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { createRedis, type RedisClient } from './redis.js';
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
export async function bindDeployment(ctx: Context): Promise<void> {
  // MySQL or Redis may still be starting (or restarting): wait for them, up to two minutes.
  for (let attempt = 1; ; attempt++) {
    try {
      const id = await readDeploymentId(ctx.sequelize);
      await claimRedisKeys(ctx.redis, ctx.config.keyPrefix, id);
      ctx.channels = channelNamespace(ctx.config, id);
      ctx.waitingRoom.channels = ctx.channels;
      return;
    } catch (err) {
      if (!isInfrastructureError(err) || attempt >= 240) throw err;
      ctx.logger.warn({ err }, 'waiting for MySQL and Redis to read the deployment');
      await new Promise((r) => setTimeout(r, 500));
    }
  }
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
  const queues = new PerformanceQueues(redis, config.keyPrefix);
  const waitingRoom = new WaitingRoom(redis, config.keyPrefix, config.admissionIdleSeconds);
  const payments = new SimulatedPaymentGateway(
    config.paymentLatencyMs,
    config.paymentDeclineRate,
    redis,
    config.keyPrefix,
  );
  const catalogue = new Catalogue(config, queues);
  const fairness = new Fairness(sequelize, waitingRoom, logger);
  // An admission made on a request's path is written to the log before the answer, so the member
  // learns of it at once; should that fail, the workers' log writer catches up within a tick.
  waitingRoom.onPending = (performanceId) =>
    fairness.drain(performanceId).catch((err: unknown) => logger.warn({ err }, 'admission log write failed'));
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
      await queues.close();
      await db.release();
      redis.disconnect();
    },
  };
}
