import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Context } from '../shared/context.js';
import { isInfrastructureError } from '../shared/errors.js';
import { createRedis, type RedisClient } from '../shared/redis.js';
import { performanceQueueName, queuePrefix } from '../shared/queues/names.js';
import { markStarted } from '../shared/queues/performance-queues.js';
import { seatJobSchema, type SeatJob } from '../shared/queues/jobs.js';
import { publishSeatEvents } from '../shared/seat-events/seat-events.js';
import { announceDone } from '../shared/holds/request-waiter.js';
import { jobInfraRetries, jobOutcomes, jobProcessing, jobWait } from '../shared/metrics.js';
import { applySeatJob, type Outcome } from './processors/seat-job.processor.js';

const MAX_UNKNOWN_ERROR_ATTEMPTS = 20;

/**
 * Serves every registered performance queue in this process: one BullMQ Worker per queue, local
 * concurrency 1, while the queue's global concurrency 1 keeps one job at a time across processes.
 */
export class SeatWorkers {
  private readonly workers = new Map<number, Worker>();
  private readonly connection: RedisClient;
  private closing = false;
  private discovery: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: Context) {
    this.connection = createRedis(ctx.config, 'blocking', 'worker');
    this.connection.on('error', (err) => ctx.logger.debug({ err }, 'worker redis error'));
  }

  async start(discoveryMs = 1000): Promise<void> {
    await this.sync();
    this.discovery = setInterval(() => {
      this.sync().catch((err: unknown) => this.ctx.logger.warn({ err }, 'queue discovery failed'));
    }, discoveryMs);
  }

  get performanceIds(): number[] {
    return [...this.workers.keys()];
  }

  /** Starts a worker for every performance queue registered and not yet served. */
  async sync(): Promise<void> {
    for (const id of await this.ctx.queues.registeredPerformanceIds()) {
      if (this.closing || this.workers.has(id)) continue;
      const lock = this.ctx.config.workerLockSeconds * 1000;
      const worker = new Worker(performanceQueueName(id), (job) => this.process(job), {
        connection: this.connection,
        prefix: queuePrefix(this.ctx.config.keyPrefix),
        concurrency: 1,
        lockDuration: lock,
        stalledInterval: lock,
        // A stalled job goes back to the head of its queue; never fail it for stalling.
        maxStalledCount: 1_000_000,
      });
      worker.on('error', (err) => this.ctx.logger.warn({ err, performanceId: id }, 'worker error'));
      worker.on('failed', (job, err) =>
        this.ctx.logger.error({ err, jobId: job?.id, performanceId: id }, 'seat job failed for good'),
      );
      this.workers.set(id, worker);
      this.ctx.logger.debug({ performanceId: id }, 'serving performance queue');
    }
  }

  async process(job: Job): Promise<{ outcome: string; holdId?: number }> {
    const parsed = seatJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`malformed seat job: ${parsed.error.message}`);
    const data = parsed.data;
    jobWait.observe({ kind: data.kind }, Math.max(0, Date.now() - (job.timestamp + (job.delay ?? 0))) / 1000);
    const started = process.hrtime.bigint();
    // "processing" is only for display: recorded alongside the commit, not before it.
    const marking =
      data.kind === 'expire'
        ? Promise.resolve()
        : markStarted(this.ctx.redis, this.ctx.config.keyPrefix, data.performanceId, Number(job.id)).catch(
            (err: unknown) => this.ctx.logger.debug({ err }, 'could not record the started sequence'),
          );
    const outcome = await this.retrying(job, () =>
      this.ctx.sequelize.transaction((transaction) => applySeatJob(this.ctx, data, transaction)),
    );
    await marking;
    jobProcessing.observe({ kind: data.kind }, Number(process.hrtime.bigint() - started) / 1e9);
    jobOutcomes.inc({ kind: data.kind, outcome: outcome.outcome });
    await this.afterCommit(data, outcome);
    return { outcome: outcome.outcome, ...(outcome.holdId ? { holdId: outcome.holdId } : {}) };
  }

  /**
   * Retries in place, so the job keeps its place at the head of the queue (a BullMQ retry would move
   * it to the back). MySQL or Redis being down is waited out for as long as it takes; while the
   * process shuts down the job is abandoned to its lock, and another worker picks it up at the head.
   */
  private async retrying<T>(job: Job, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const infra =
          isInfrastructureError(err) ||
          (err instanceof Error && err.name === 'SequelizeUniqueConstraintError');
        if (!infra && attempt >= MAX_UNKNOWN_ERROR_ATTEMPTS) throw err;
        jobInfraRetries.inc();
        this.ctx.logger.warn({ err, jobId: job.id, attempt }, 'seat job failed, retrying in place');
        await sleep(Math.min(5000, 50 * 2 ** Math.min(attempt, 7)));
        if (this.closing) await new Promise(() => undefined);
      }
    }
  }

  private async afterCommit(job: SeatJob, o: Outcome): Promise<void> {
    const { redis, config, queues, payments, waitingRoom, logger } = this.ctx;
    const steps: [string, () => Promise<unknown>][] = [];
    if (o.events.length)
      steps.push([
        'publish seat events',
        () => publishSeatEvents(redis, config.keyPrefix, job.performanceId, o.events),
      ]);
    if (o.expiry) {
      const { holdId, at } = o.expiry;
      // (A job that ran early, against clock skew, re-arms itself the same way.)
      steps.push([
        'schedule expiry',
        () =>
          queues.addExpiry(
            { kind: 'expire', performanceId: job.performanceId, holdId },
            at.getTime() - Date.now(),
          ),
      ]);
    }
    if (o.capture) steps.push(['capture payment', () => payments.capture(o.capture!)]);
    if (o.void) steps.push(['void payment', () => payments.void(o.void!)]);
    if (o.finished)
      steps.push([
        'leave waiting room',
        () => waitingRoom.leave(o.finished!.performanceId, o.finished!.memberId),
      ]);
    if (o.requestId && o.outcome !== 'skipped')
      steps.push(['announce', () => announceDone(redis, config.keyPrefix, [o.requestId!])]);
    // Independent and idempotent, so they run together; each is backed up (replay from MySQL, the
    // sweeper, long-poll re-checks). The next job starts only after all of them, which keeps the
    // pub/sub order of seat events equal to the commit order.
    await Promise.all(
      steps.map(async ([name, step]) => {
        for (let attempt = 1; attempt <= 5; attempt++) {
          try {
            await step();
            return;
          } catch (err) {
            logger.warn({ err, step: name, attempt }, 'after-commit step failed');
            if (attempt < 5) await sleep(100 * attempt);
          }
        }
      }),
    );
  }

  async close(graceMs = 5000): Promise<void> {
    this.closing = true;
    if (this.discovery) clearInterval(this.discovery);
    await Promise.all(
      [...this.workers.values()].map(async (w) => {
        const closed = w.close();
        const timedOut = await Promise.race([closed.then(() => false), sleep(graceMs).then(() => true)]);
        if (timedOut) await w.close(true);
      }),
    );
    this.workers.clear();
    this.connection.disconnect();
  }
}
